// One vessel-img verb per file: each adds its subcommand with its own options struct and runs it
// once the command line is parsed. What is shared by every verb is here.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "block/image.h"
#include "block/img_ops.h"

namespace vessel::img {

inline constexpr const char* kProg = "vessel-img";

class Verb {
 public:
  virtual ~Verb() = default;
  // Adds the subcommand to `app`; the verb keeps the pointer to know whether it was chosen.
  virtual CLI::App* add(CLI::App& app) = 0;
  // The exit status.
  virtual int run() = 0;
};

// In the order `vessel-img --help` lists them.
std::unique_ptr<Verb> create_verb();
std::unique_ptr<Verb> info_verb();
std::unique_ptr<Verb> check_verb();
std::unique_ptr<Verb> convert_verb();
std::unique_ptr<Verb> resize_verb();
std::unique_ptr<Verb> commit_verb();
std::unique_ptr<Verb> rebase_verb();
std::unique_ptr<Verb> map_verb();
std::unique_ptr<Verb> compare_verb();
std::unique_ptr<Verb> bench_verb();

// Prints the error as every vessel tool does; returns 1.
int report(const Error& e);
// -f NAME: nullopt when empty (probe the format).
Result<std::optional<block::Format>> opt_format(const std::string& name);
std::string fmt_help();

// --backing-policy (every verb that opens images) and -U/--force-share (verbs that only read).
struct AccessFlags {
  std::string backing_policy;  // empty: $VESSEL_IMG_BACKING_POLICY, else "follow" (qemu-img's rule)
  bool force_share = false;
};
void add_access_flags(CLI::App* c, AccessFlags& flags, bool force_share);
Result<block::Access> access(const AccessFlags& flags);

}  // namespace vessel::img
