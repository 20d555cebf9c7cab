#include "vmm/migration/receiver.h"

namespace vessel::vmm::migration {
namespace {

class Receiver {
 public:
  Receiver(Channel& channel, const AllocateRam& allocate, const OnConfig& on_config)
      : ch_(channel), allocate_(allocate), on_config_(on_config) {}

  Result<Received> run() {
    TRY(hello());
    TRY(config());
    // RAM is allocated and the VM built: the sender may start round 0 (its clock for the downtime
    // starts later, so the build is not part of it).
    TRY(ch_.write(encode_empty(MessageType::Ready)));
    for (;;) {
      Header h = TRY(next_header());
      switch (h.type) {
        case MessageType::Round: TRY(round(h)); break;
        case MessageType::Pages:
        case MessageType::Zero: TRY(pages(h)); break;
        case MessageType::State: TRY(state(h)); return std::move(out_);
        default: return fail(EPROTO, "unexpected {} message after the Config", to_string(h.type));
      }
    }
  }

 private:
  Result<void> read(std::span<uint8_t> dst) {
    TRY(ch_.read(dst));
    out_.stats.bytes += dst.size();
    return {};
  }

  // The next header; an Error message from the sender ends the migration with its text.
  Result<Header> next_header() {
    uint8_t bytes[kHeaderBytes];
    TRY(read(bytes));
    Header h = TRY(parse_header(bytes));
    if (h.type != MessageType::Error) return h;
    std::vector<uint8_t> text(h.length);
    TRY(read(text));
    return fail(ECONNABORTED, "the sender gave up: {}", parse_error_text(text));
  }

  Result<void> hello() {
    Header h = TRY(next_header());
    if (h.type != MessageType::Hello) return fail(EPROTO, "the stream starts with a {} message, not Hello", to_string(h.type));
    uint8_t payload[16];
    if (h.length != sizeof payload) return fail(EPROTO, "Hello message of {} bytes", h.length);
    TRY(read(payload));
    out_.hello = TRY(parse_hello(payload));
    ram_ = TRY_CTX(allocate_(out_.hello), "guest RAM of {} MiB", out_.hello.mem_size >> 20);
    if (ram_.ram.size() != out_.hello.mem_size) return fail(EINVAL, "guest RAM of {} bytes allocated", ram_.ram.size());
    return {};
  }

  // Right after the Hello.
  Result<void> config() {
    Header h = TRY(next_header());
    if (h.type != MessageType::Config) return fail(EPROTO, "a {} message where the Config belongs", to_string(h.type));
    if (h.length == 0) return fail(EPROTO, "an empty Config message");
    out_.config.resize(h.length);  // bounded by parse_header (kMaxConfigBytes)
    TRY(read(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out_.config.data()), out_.config.size())));
    if (on_config_) TRY_CTX(on_config_(out_.config), "the VM's configuration");
    return {};
  }

  // Rounds are numbered 0, 1, 2, ...; round 0 comes before any page.
  Result<void> round(const Header& h) {
    uint8_t payload[16];
    if (h.length != sizeof payload) return fail(EPROTO, "Round message of {} bytes", h.length);
    TRY(read(payload));
    RoundStart r = TRY(parse_round(payload));
    if (r.round != out_.stats.rounds) return fail(EPROTO, "round {} where round {} belongs", r.round, out_.stats.rounds);
    ++out_.stats.rounds;
    return {};
  }

  Result<void> pages(const Header& h) {
    if (out_.stats.rounds == 0) return fail(EPROTO, "a {} message before round 0", to_string(h.type));
    if (h.length < 8) return fail(EPROTO, "{} message of {} bytes", to_string(h.type), h.length);
    std::vector<uint8_t> table(8);
    TRY(read(table));
    uint32_t count = TRY(parse_range_count(table));
    if (h.length < table_bytes(count)) return fail(EPROTO, "{} message of {} bytes for {} ranges", to_string(h.type), h.length, count);
    table.resize(table_bytes(count));
    TRY(read(std::span<uint8_t>(table).subspan(8)));
    PageRanges ranges = TRY(parse_ranges(table, h.type, h.length, ram_.ram.size() / kPageSize));
    for (const auto& r : ranges.ranges) {
      auto at = ram_.ram.subspan(r.first * kPageSize, r.count * kPageSize);  // inside: parse_ranges checked it
      if (h.type == MessageType::Pages) TRY(read(at));
      else ram_.zero(r.first * kPageSize, r.count * kPageSize);
    }
    (h.type == MessageType::Pages ? out_.stats.data_pages : out_.stats.zero_pages) += ranges.pages;
    return {};
  }

  Result<void> state(const Header& h) {
    if (out_.stats.rounds == 0) return fail(EPROTO, "the State message before round 0");
    uint8_t head[8];
    if (h.length < sizeof head) return fail(EPROTO, "State message of {} bytes", h.length);
    TRY(read(head));
    uint32_t flags = TRY(parse_state_head(head, h.length));
    out_.resume = (flags & kStateResume) != 0;
    out_.state.resize(h.length - sizeof head);  // bounded by parse_header (kMaxStateBytes)
    return read(out_.state);
  }

  Channel& ch_;
  const AllocateRam& allocate_;
  const OnConfig& on_config_;
  RamTarget ram_;
  Received out_;
};

}  // namespace

Result<uint64_t> open_stream(Channel& channel, const Token* expected) {
  uint8_t preamble[kPreambleBytes];
  TRY(channel.read(preamble));
  TRY(parse_preamble(preamble));
  if (!expected) return kPreambleBytes;
  uint8_t bytes[kHeaderBytes];
  TRY(channel.read(bytes));
  Header h = TRY(parse_header(bytes));
  if (h.type != MessageType::Token) return fail(EACCES, "the stream starts with a {} message, not the Token this receiver expects", to_string(h.type));
  if (h.length != kTokenBytes) return fail(EACCES, "Token message of {} bytes", h.length);
  Token got;
  TRY(channel.read(got.bytes));
  if (!same_token(got, *expected)) return fail(EACCES, "the sender's token is not this receiver's");
  return kPreambleBytes + kHeaderBytes + kTokenBytes;
}

Result<Received> receive_opened(Channel& channel, const AllocateRam& allocate, const OnConfig& on_config) {
  return Receiver(channel, allocate, on_config).run();
}

Result<Received> receive(Channel& channel, const AllocateRam& allocate, const OnConfig& on_config) {
  uint64_t opened = TRY(open_stream(channel, nullptr));
  auto received = TRY(receive_opened(channel, allocate, on_config));
  received.stats.bytes += opened;
  return received;
}

Result<void> answer_done(Channel& channel) { return channel.write(encode_empty(MessageType::Done)); }

void answer_error(Channel& channel, const Error& error) {
  channel.set_timeout(std::chrono::milliseconds(500));
  (void)channel.write(encode_error(error.to_string()));
}

}  // namespace vessel::vmm::migration
