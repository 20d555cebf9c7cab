// vessel: the command line for vesseld (VMs and containers on this host).
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "base/version.h"
#include "base/cli.h"
#include "cli/commands.h"
#include "cli/usage.h"

int main(int argc, char** argv) {
  using namespace vessel::cli;
  Context ctx;
  const char* env = std::getenv("VESSEL_SOCKET");
  ctx.socket = env && *env ? env : "/run/vessel/vessel.sock";
  CLI::App app{"vessel - run and manage VMs and containers through vesseld", "vessel"};
  app.set_version_flag("--version", std::string("vessel version ") + vessel::kVersion);
  app.footer(
      "Examples:\n"
      "  vessel image import busybox.tar --name busybox\n"
      "  vessel run --name web -p 8080:80 busybox -- /bin/httpd -f -p 80   (curl 127.0.0.1:8080)\n"
      "  vessel network create backend; vessel run --network backend busybox -- ...\n"
      "  vessel ls; vessel logs -f web; vessel exec web -- ps; vessel stop web; vessel rm web\n"
      "  vessel cp web:/etc/hosts .; vessel cp ./site/. web:/srv\n"
      "  vessel run --vm --kernel guest/vmlinuz --initramfs guest/initramfs.cpio -m 512M\n"
      "  vessel host check\n\n"
      "  vessel --remote https://host:8443 --client-cert me.crt --client-key me.key --server-fingerprint HEX ls\n\n"
      "Environment: VESSEL_SOCKET (default /run/vessel/vessel.sock); VESSEL_REMOTE, VESSEL_CLIENT_CERT,\n"
      "VESSEL_CLIENT_KEY, VESSEL_SERVER_FINGERPRINT, VESSEL_SERVER_CA for a remote vesseld (docs/daemon/remote.md).\n"
      "Exit status: 0 success; 1 failure (the message says why and what to do); 2 usage error;\n"
      "`vessel exec` exits with the command's status.");
  app.add_option("--socket", ctx.socket, "vesseld's API socket")->capture_default_str();
  app.require_subcommand(1);
  app.fallthrough();  // global options after the verb too (`vessel ls --socket S`): subcommands inherit it
  add_instance_commands(app, ctx);
  add_observe_commands(app, ctx);
  add_image_commands(app, ctx);
  add_host_commands(app, ctx);
  add_network_commands(app, ctx);
  add_pool_commands(app, ctx);
  add_volume_commands(app, ctx);
  add_policy_commands(app, ctx);
  add_cluster_commands(app, ctx);
  add_attach_commands(app, ctx);
  add_cp_command(app, ctx);
  add_build_command(app, ctx);
  add_suspend_commands(app, ctx);
  add_snapshot_commands(app, ctx);
  add_migrate_command(app, ctx);
  add_bench_commands(app, ctx);
  add_backup_commands(app, ctx);
  add_remote_flags(app, ctx);
  add_trust_commands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e);
  }
  return ctx.status;
}
