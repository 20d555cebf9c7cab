// --help texts of vessel-runtime and each of its commands.
#pragma once

namespace vessel::runtime::cli {

const char* main_help();
// nullptr when the command is unknown.
const char* command_help(const char* command);

}  // namespace vessel::runtime::cli
