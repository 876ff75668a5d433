// What elmsim.Model holds: the config its structure came from and the network.
#pragma once

#include <string>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/network.hpp"

namespace elm::python {

struct PythonModel {
    io::ExperimentConfig config;
    models::Network<float> net;
    std::string path;  // the checkpoint it was loaded from ("" when built)
};

// "elmsim-python <version>": the provenance written into files.
std::string created_by();

}  // namespace elm::python
