// A small pool of I/O threads: large reads and writes are split into pieces that run in
// parallel, so that one big guest request (or a convert) keeps every core copying.
#pragma once

#include <functional>

namespace vessel::block {

// Runs task(0) .. task(n-1), in parallel on the pool where possible, and waits for all of
// them. Falls back to running them in order when no pool is available (e.g. in a forked child).
void run_parallel(int n, const std::function<void(int)>& task);

// Number of pieces worth splitting a large request into (1 when there is no pool).
int io_parallelism();

}  // namespace vessel::block
