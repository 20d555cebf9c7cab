#include "img/verb.h"

#include <cstdlib>

#include "base/cli.h"

namespace vessel::img {

int report(const Error& e) {
  cli::print_error(kProg, e);
  return 1;
}

Result<std::optional<block::Format>> opt_format(const std::string& name) {
  if (name.empty()) return std::optional<block::Format>();
  return std::optional<block::Format>(TRY(block::parse_format(name)));
}

std::string fmt_help() { return "image format: raw or qcow2 (probed from the magic when omitted)"; }

void add_access_flags(CLI::App* c, AccessFlags& flags, bool force_share) {
  c->add_option("--backing-policy", flags.backing_policy,
                "which backing files an image may name: 'follow' (qemu-img's rule: any name, the default), "
                "'inside' (relative names inside the image's folder only) or 'refuse' (none); "
                "default from $VESSEL_IMG_BACKING_POLICY")
      ->check(CLI::IsMember({"follow", "inside", "refuse"}));
  if (force_share)
    c->add_flag("-U,--force-share", flags.force_share,
                "open read-only images even while another process writes them (no image lock excludes it)");
}

Result<block::Access> access(const AccessFlags& flags) {
  block::Access a;
  std::string policy = flags.backing_policy;
  if (policy.empty()) {
    const char* env = ::getenv("VESSEL_IMG_BACKING_POLICY");
    policy = env && *env ? env : "follow";
  }
  a.backing = TRY_CTX(block::parse_backing_policy(policy), "--backing-policy / VESSEL_IMG_BACKING_POLICY");
  a.force_share = flags.force_share;
  return a;
}

}  // namespace vessel::img
