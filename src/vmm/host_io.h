// vessel-vmm's ends on the host side: the API socket, the console socket, the terminal on stdin
// and the stop signals. Each runs on threads of its own and reaches the VM only through the VMM
// thread's mailboxes (vmm.h).
#pragma once

#include <signal.h>
#include <termios.h>

#include <memory>
#include <string>

#include "http/http.h"
#include "vmm/devices/legacy/console_socket.h"
#include "vmm/vmm.h"

namespace vessel::vmm {

// Serves the control API on `path`: each request becomes an action for the VMM thread.
Result<std::unique_ptr<http::Server>> serve_api(const std::string& path, ActionMailbox& actions);

// Serves the serial console on `path` (--console-sock): client bytes go to the VMM thread, the
// guest's output to the clients.
Result<std::unique_ptr<ConsoleSocket>> serve_console(const std::string& path, ConsoleMailbox& input, Serial& serial);

// Blocks SIGTERM, SIGINT and SIGHUP in this thread (threads started later inherit the mask) and
// ignores SIGPIPE. Then a thread of its own waits for them and posts each to `signals`.
void start_signal_thread(SignalMailbox& signals);

// When stdin is a terminal: raw mode, and a thread that sends what is typed to the guest.
class Terminal {
 public:
  void attach(ConsoleMailbox& input);
  ~Terminal();

 private:
  bool raw_ = false;
  termios saved_{};
};

}  // namespace vessel::vmm
