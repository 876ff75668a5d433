#include "elmsim/models/train_config.hpp"

#include <algorithm>
#include <cmath>

#include "elmsim/models/enum_names.hpp"

namespace elm::models {

std::string to_string(OptimizerKind k) { return name_in(kOptimizerNames, k); }
std::string to_string(Schedule s) { return name_in(kScheduleNames, s); }
std::string to_string(LossMode m) { return name_in(kLossNames, m); }
std::string to_string(TimeBase t) { return name_in(kTimeBaseNames, t); }

bool optimizer_from_string(const std::string& name, OptimizerKind* out) {
    for (const auto& [n, v] : kOptimizerNames)
        if (name == n) {
            if (out) *out = v;
            return true;
        }
    return false;
}

double learning_rate(const TrainConfig& cfg, std::int64_t step) {
    if (cfg.warmup_steps > 0 && step < cfg.warmup_steps)
        return cfg.lr * static_cast<double>(step + 1) / static_cast<double>(cfg.warmup_steps);
    if (cfg.schedule == Schedule::constant) return cfg.lr;
    const double span = static_cast<double>(std::max<std::int64_t>(1, cfg.max_steps - cfg.warmup_steps));
    const double progress = std::clamp(static_cast<double>(step - cfg.warmup_steps) / span, 0.0, 1.0);
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + std::cos(3.141592653589793 * progress));
}

}  // namespace elm::models
