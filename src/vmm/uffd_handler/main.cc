// vessel-uffd-handler: a page-fault handler for snapshots loaded with the Uffd memory backend
// (docs/vmm/uffd.md). Listens on --socket, accepts one VMM (vessel-vmm, or Firecracker: the same
// protocol), receives its userfaultfd and region mappings, and fills guest pages from --mem-file
// as they are first touched, until the VMM exits.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "base/cli.h"
#include "base/log.h"
#include "base/unix_socket.h"
#include "vmm/uffd_handler/handshake.h"
#include "vmm/uffd_handler/page_server.h"

using namespace vessel;
using namespace vessel::vmm::uffd_handler;

namespace {

struct Options {
  std::string mem_file, socket;
  bool quiet = false;
};

Result<void> run(const Options& o) {
  auto file = TRY_CTX(Fd::open(o.mem_file, O_RDONLY), "--mem-file {}", o.mem_file);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return fail_errno("fstat {}", o.mem_file);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "--mem-file {} is not a regular file", o.mem_file);
  auto listener = TRY_CTX(unix_socket::listen(o.socket, {.mode = 0600, .backlog = 1}), "--socket {}", o.socket);
  auto vm = TRY_CTX(accept_vm(listener.get(), static_cast<uint64_t>(st.st_size)), "the VMM's message on {}", o.socket);
  listener.reset();
  ::unlink(o.socket.c_str());  // one VMM per handler: nobody else may connect
  auto server = TRY(PageServer::create(file.get(), static_cast<uint64_t>(st.st_size), vm.regions));
  if (!o.quiet) log::info("serving {} region(s) of {} to VMM pid {}", vm.regions.size(), o.mem_file, vm.peer_pid);
  // The VMM's end: its process (a pidfd), which works with Firecracker too, whose socket closes
  // right after the handshake; without one (no peer pid in this PID namespace), the socket.
  Fd pidfd(vm.peer_pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, vm.peer_pid, 0)) : -1);
  TRY(server.run(vm.uffd.get(), vm.socket.get(), pidfd.get()));
  const auto& s = server.stats();
  if (!o.quiet) log::info("the VMM exited: {} faults, {} pages copied, {} zero pages", s.faults, s.copied_pages, s.zero_pages);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("vessel-uffd-handler");
  Options o;
  CLI::App app{"vessel-uffd-handler: serves a snapshot's memory file to one VMM over userfaultfd "
               "(PUT /snapshot/load with mem_backend Uffd; docs/vmm/uffd.md)"};
  app.add_option("--mem-file", o.mem_file, "the snapshot's memory file")->required();
  app.add_option("--socket", o.socket, "the Unix socket to listen on (the load's backend_path)")->required();
  app.add_flag("--quiet", o.quiet, "log errors only");
  CLI11_PARSE(app, argc, argv);
  if (auto r = run(o); !r) {
    cli::print_error("vessel-uffd-handler", r.error());
    return cli::kExitFailure;
  }
  return 0;
}
