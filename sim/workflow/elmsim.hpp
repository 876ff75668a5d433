// elmsim's C++ API in one include, <elmsim/elmsim.hpp>, for programs that embed elmsim (link the CMake
// target elmsim::elmsim: find_package(elmsim) from an installed prefix; tools/example/ shows a whole
// program). It includes no HDF5 or oneTBB header.
//
//   models/     what a network is: ModelConfig, Network (parameters in one flat buffer, ParamLayout),
//               parameter accounting and budget search, the per-neuron formulas (elm_math.hpp)
//   io/         files: experiment configs, checkpoints, SHD-format spike data, traces (Recorder)
//   sim/        running a network on a backend ("cpu", make_backend): Trainer, Simulator, Session
//   workflow/   training runs, evaluation, simulation over a dataset and text generation as calls
//   science/    budget sweeps (plan, run, shared directories) and the fits of science.md
#pragma once

#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/param_count.hpp"
#include "elmsim/models/time_grid.hpp"
#include "elmsim/models/train_config.hpp"

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/recorder.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/task_data.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/io/trace_writer.hpp"

#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/simulator.hpp"
#include "elmsim/sim/trainer.hpp"

#include "elmsim/sim/workflow/evaluate.hpp"
#include "elmsim/sim/workflow/generation.hpp"
#include "elmsim/sim/workflow/model_file.hpp"
#include "elmsim/sim/workflow/simulation.hpp"
#include "elmsim/sim/workflow/training.hpp"

#include "elmsim/io/sweep_config.hpp"
#include "elmsim/sim/science/sweep_fit.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"
#include "elmsim/sim/science/sweep_runner.hpp"
