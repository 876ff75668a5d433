#include "elmsim/io/batch_dump.hpp"

#include "elmsim/io/hdf5_file.hpp"

namespace elm::io {

void write_batch_dump(const std::string& path, const models::Batch& batch, const std::vector<float>& model_input,
                      int C) {
    AtomicOutput out(path);
    auto f = H5File::create(out.tmp_path());
    const std::vector<hsize_t> xshape{static_cast<hsize_t>(batch.T), static_cast<hsize_t>(batch.B),
                                      static_cast<hsize_t>(C)};
    write_dataset<float>(f.id(), "x", model_input.data(), xshape);
    write_dataset<std::int32_t>(f.id(), "targets", batch.targets.data(), {static_cast<hsize_t>(batch.targets.size())});
    if (!batch.tokens.empty())
        write_dataset<std::uint8_t>(f.id(), "tokens", batch.tokens.data(),
                                    {static_cast<hsize_t>(batch.T), static_cast<hsize_t>(batch.B)});
    f.close();
    out.commit();
}

}  // namespace elm::io
