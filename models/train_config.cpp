#include "elmsim/models/train_config.hpp"

namespace elm::models {

namespace {
template <class Table, class E>
std::string name_in(const Table& table, E value) {
    for (const auto& [name, v] : table)
        if (v == value) return name;
    return "?";
}
}  // namespace

std::string to_string(OptimizerKind k) { return name_in(kOptimizerNames, k); }
std::string to_string(Schedule s) { return name_in(kScheduleNames, s); }
std::string to_string(LossMode m) { return name_in(kLossNames, m); }

bool optimizer_from_string(const std::string& name, OptimizerKind* out) {
    for (const auto& [n, v] : kOptimizerNames)
        if (name == n) {
            if (out) *out = v;
            return true;
        }
    return false;
}

}  // namespace elm::models
