// cluster simulate: placeholder until the placement library lands.
#include "cli/commands.h"

namespace vessel::cli {
void add_cluster_simulate(CLI::App*, Context&) {}
}  // namespace vessel::cli
