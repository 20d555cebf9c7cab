// Usage errors in vessel's own voice: CLI11's parse errors become
//   vessel: error: The following argument was not expected: --bogus (see `vessel ls --help`)
// with exit status 2, naming the deepest verb the user got to.
#pragma once

#include <CLI/CLI.hpp>

namespace vessel::cli {

// Prints the error (or the help CLI11 was asked for) and returns the exit status.
int report_parse_error(CLI::App& app, const CLI::ParseError& error);

}  // namespace vessel::cli
