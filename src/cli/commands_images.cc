// image import|ls|inspect|rm, host check, completion
#include <unistd.h>

#include <filesystem>

#include "base/cli.h"
#include "cli/commands.h"
#include "cli/disk_flags.h"
#include "cli/format.h"
#include "cli/local_path.h"
#include "cli/progress_lines.h"
#include "hostcheck/host_check.h"

namespace vessel::cli {

namespace {

struct ImportFlags {
  std::string file, name, kernel, initramfs, cmdline;
  std::vector<std::string> disks;
  bool vm = false, quiet = false;
};

// POST /v1/images?progress=1: a progress bar on a terminal (unless quiet), then the image's name.
void import_with_progress(Context& ctx, Client& client, const json::Json& body, bool quiet) {
  ProgressLines lines(!quiet && ::isatty(2));
  auto r = client.stream("POST", "/v1/images?progress=1", body.dump(), [&](std::string_view d) { return lines.feed(d); });
  auto result = r ? lines.finish() : Result<json::Json>(Unexpected(r.error()));
  if (!result) { ctx.status = report(result.error()); return; }
  fmt::print("{}\n", result->value("name", ""));
}

}  // namespace

void add_image_commands(CLI::App& app, Context& ctx) {
  auto* image = app.add_subcommand("image", "manage images: pull, import, tag, ls, inspect, rm");
  image->require_subcommand(1);
  add_registry_commands(app, *image, ctx);
  {
    auto f = std::make_shared<ImportFlags>();
    auto* c = image->add_subcommand("import", "import a container image tarball (docker-archive or OCI layout), or register a VM image");
    c->footer("Examples:\n  podman save -o busybox.tar busybox && vessel image import busybox.tar --name busybox\n"
              "  vessel image import --vm --name linux --kernel /boot/vmlinuz --initramfs /boot/initrd.img --cmdline console=ttyS0\n"
              "  vessel image import --vm --name deb --kernel vmlinuz --disk path=root.qcow2,format=qcow2\n"
              "Layers are verified (sha256), unpacked once and shared between images.");
    c->add_option("file", f->file, "the tarball (podman save / skopeo copy output)");
    c->add_option("--name", f->name,
                  "image name or reference (busybox:1.36); default: what the archive calls it (RepoTags, as docker "
                  "load does), else the file's name; a VM image: the kernel file's name");
    c->add_flag("--vm", f->vm, "register a VM image from --kernel/--initramfs/--cmdline");
    c->add_option("--kernel", f->kernel, "VM image: kernel");
    c->add_option("--initramfs", f->initramfs, "VM image: initramfs");
    c->add_option("--cmdline", f->cmdline, "VM image: kernel command line");
    c->add_option("--disk", f->disks,
                  "VM image: a disk copied into the store as a read-only base; each instance writes to its own "
                  "qcow2 overlay. PATH (raw; never probed: a qcow2 needs its format) or path=FILE,format=raw|qcow2 "
                  "(repeatable)")
        ->allow_extra_args(false);
    c->add_flag("--quiet,-q", f->quiet, "no progress bar");
    c->callback([&ctx, f] {
      auto client = ctx.client();
      if (f->vm) {
        if (f->kernel.empty()) { ctx.status = report(Error(EINVAL, "a VM image needs --kernel")); return; }
        json::Json body = {{"type", "vm"}, {"kernel", absolute_path(f->kernel)}};
        if (!f->name.empty()) body["name"] = f->name;  // else vesseld takes the kernel file's
        if (!f->initramfs.empty()) body["initramfs"] = absolute_path(f->initramfs);
        if (!f->cmdline.empty()) body["cmdline"] = f->cmdline;
        for (const auto& d : f->disks) {
          auto disk = parse_image_disk(d);
          if (!disk) { ctx.status = report(disk.error()); return; }
          body["disks"].push_back(*disk);
        }
        import_with_progress(ctx, client, body, f->quiet);  // disks are copied into the store
        return;
      }
      if (f->file.empty()) { ctx.status = report(Error(EINVAL, "which file? vessel image import FILE [--name NAME]")); return; }
      json::Json body = {{"archive", absolute_path(f->file)}};
      if (!f->name.empty()) body["name"] = f->name;  // else vesseld takes the archive's (RepoTags)
      import_with_progress(ctx, client, body, f->quiet);
    });
  }
  {
    auto as_json = std::make_shared<bool>(false);
    auto* c = image->add_subcommand("ls", "list images");
    c->alias("list");
    c->add_flag("--json", *as_json, "print JSON");
    c->callback([&ctx, as_json] {
      auto r = ctx.client().call("GET", "/v1/images");
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}", *as_json ? r->dump(2) + "\n" : images_table(*r));
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* c = image->add_subcommand("inspect", "print an image's description as JSON");
    c->add_option("name", *name, "image name")->required();
    c->callback([&ctx, name] {
      auto r = ctx.client().call("GET", "/v1/images/" + escape_segment(*name));
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}\n", r->dump(2));
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = image->add_subcommand("rm", "delete images no instance uses (their unshared layers too)");
    c->add_option("names", *names, "image names")->required();
    c->callback([&ctx, names] {
      for (const auto& n : *names) {
        auto r = ctx.client().call("DELETE", "/v1/images/" + escape_segment(n));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
}

void add_host_commands(CLI::App& app, Context& ctx) {
  auto* host = app.add_subcommand("host", "this host: check");
  host->require_subcommand(1);
  auto as_json = std::make_shared<bool>(false);
  auto* check = host->add_subcommand("check", "can this machine run vessel's VMs and containers? (works without vesseld)");
  check->add_flag("--json", *as_json, "print JSON");
  check->callback([&ctx, as_json] {
    hostcheck::Options options;
    options.json = *as_json;
    ctx.status = hostcheck::run(options);
  });

  auto* completion = app.add_subcommand("completion", "print the bash completion script");
  auto shell = std::make_shared<std::string>("bash");
  completion->add_option("shell", *shell, "only bash")->check(CLI::IsMember({"bash"}));
  completion->callback([shell] { fmt::print("{}", bash_completion()); });  // keeps the option's target alive
}

}  // namespace vessel::cli
