// The receiving side of a live migration (docs/vmm/migration.md): reads a sender's stream into
// guest RAM and hands back the VM's state. Everything in the stream is checked before it is
// used: the preamble, each header against its type's bounds, the order of the messages (Hello,
// then rounds of Pages and Zero, then State), every page range against the RAM the Hello asked
// for. Guest RAM is written only inside the ranges a checked table named.
#pragma once

#include <functional>

#include "vmm/migration/channel.h"
#include "vmm/migration/protocol.h"

namespace vessel::vmm::migration {

// Where the pages go: guest RAM's host mapping, zero-filled when handed out.
struct RamTarget {
  std::span<uint8_t> ram;
  // Makes [offset, offset + length) read as zeros again (anonymous memory: MADV_DONTNEED).
  std::function<void(uint64_t offset, uint64_t length)> zero;
};
// Called once, with the checked Hello: the RAM to fill (or why there is none).
using AllocateRam = std::function<Result<RamTarget>(const Hello&)>;
// Called with the Config message's text (right after the Hello, before Ready is answered): the
// caller builds the VM then, outside the downtime. Its error ends the migration.
using OnConfig = std::function<Result<void>(const std::string&)>;

struct ReceiveStats {
  uint32_t rounds = 0;       // Round messages seen
  uint64_t data_pages = 0;   // pages that came with their bytes
  uint64_t zero_pages = 0;
  uint64_t bytes = 0;        // of the stream
};

struct Received {
  Hello hello;
  std::string config;          // the Config message's text
  std::vector<uint8_t> state;  // the VM's state, as a snapshot's state file (not decoded yet)
  bool resume = false;         // the VM ran on the sender: run it
  ReceiveStats stats;
};

// Reads the stream's preamble and, when `expected` is given, the Token message that must come
// next, equal to it (EACCES when it is not). Returns the bytes read.
Result<uint64_t> open_stream(Channel& channel, const Token* expected);
// Reads an opened stream up to its State message, answering Ready after the Hello and the Config.
// The caller then builds the VM from `state` and answers answer_done() (or answer_error()); a
// sender that gives up (an Error message) or vanishes is an error here.
Result<Received> receive_opened(Channel& channel, const AllocateRam& allocate, const OnConfig& on_config = {});
// open_stream() without a token, then receive_opened().
Result<Received> receive(Channel& channel, const AllocateRam& allocate, const OnConfig& on_config = {});

Result<void> answer_done(Channel& channel);
// Best effort: the sender may be gone already.
void answer_error(Channel& channel, const Error& error);

}  // namespace vessel::vmm::migration
