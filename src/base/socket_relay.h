// Bytes both ways between two connected sockets, for streams vesseld passes through without
// reading them (a VM's console, a live migration's stream between hosts).
#pragma once

#include <string>

namespace vessel::unix_socket {

// Copies a -> b and b -> a until b ends (EOF or an error) or a fails; `early` goes to b first
// (bytes that came with a's request). a's EOF is passed on as a half-close of b (shutdown
// SHUT_WR), so that b's answer still flows back. Blocks; owns neither socket.
void relay_until_closed(int a, int b, const std::string& early = {});

}  // namespace vessel::unix_socket
