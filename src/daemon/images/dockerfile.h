// A Dockerfile parsed, as the Dockerfile reference defines it: parser directives (syntax,
// escape, check), comments, line continuations, instructions with their --flags and their exec
// (JSON) or shell form, split into stages at each FROM. Parsing only: variables are expanded when
// the build runs each instruction (dockerfile_words.h), because ENV and ARG values build up stage
// by stage. The text is a client's: every error names its line and column, nothing throws.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace vessel::daemon::dockerfile {

struct Position {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

struct Instruction {
  std::string keyword;  // upper case: FROM, RUN, COPY...
  // --name=value flags before the arguments, in order; a bare --name has the value "".
  std::vector<std::pair<std::string, std::string>> flags;
  // The arguments after the flags, continuation lines joined, trimmed (the shell form's text).
  std::string args;
  // The JSON array form of RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME and HEALTHCHECK CMD.
  std::optional<std::vector<std::string>> exec;
  Position at;  // where the keyword is
  // HEALTHCHECK: "CMD" or "NONE" (args/exec are then the command's); ONBUILD: the trigger.
  std::string sub;
  std::vector<Instruction> trigger;

  std::optional<std::string> flag(std::string_view name) const;
};

struct Stage {
  Instruction from;                       // its FROM
  std::string base;                       // the image (or an earlier stage's name), unexpanded
  std::string name;                       // FROM ... AS name, lower case; "" when unnamed
  std::vector<Instruction> instructions;  // those after FROM, up to the next FROM
};

struct Dockerfile {
  char escape = '\\';
  std::string syntax;                     // the # syntax= directive, recorded only
  std::vector<Instruction> global_args;   // the ARGs before the first FROM (FROM may use them)
  std::vector<Stage> stages;

  // The stage `--target` names (its AS name, or its index), or the last one for "".
  Result<size_t> target(std::string_view name) const;
};

// The instructions the reference knows (MAINTAINER included: deprecated but still accepted).
bool is_instruction(std::string_view upper);

Result<Dockerfile> parse(std::string_view text);

}  // namespace vessel::daemon::dockerfile
