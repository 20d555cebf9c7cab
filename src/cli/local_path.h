// Paths a user gives on the command line are relative to the CLI's working directory; vesseld
// runs elsewhere and takes absolute ones.
#pragma once

#include <string>

namespace vessel::cli {

// `path` made absolute against the working directory, "." and ".." folded (an empty path stays empty; if the working
// directory cannot be read, the path is returned as given and the daemon's error names it).
std::string absolute_path(const std::string& path);

}  // namespace vessel::cli
