#include <variant>

#include "agent/handlers.h"

namespace vessel::agent {

void serve_connection(Channel& ch) {
  auto frame = ch.read_frame();
  if (!frame) return;
  if (frame->kind != FrameKind::Control) {
    ch.send_control(error_reply("expected a control frame with the request"));
    return;
  }
  auto req = parse_request(frame->payload);
  if (!req) {
    ch.send_control(error_reply(req.error()));
    return;
  }
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ExecRequest>) run_exec(ch, r);
        if constexpr (std::is_same_v<T, HealthRequest>) run_health(ch);
        if constexpr (std::is_same_v<T, StatsRequest>) run_stats(ch);
        if constexpr (std::is_same_v<T, ShutdownRequest>) run_shutdown(ch);
        if constexpr (std::is_same_v<T, CopyInRequest>) run_copy_in(ch, r);
        if constexpr (std::is_same_v<T, CopyOutRequest>) run_copy_out(ch, r);
        if constexpr (std::is_same_v<T, StatRequest>) run_stat(ch, r);
        if constexpr (std::is_same_v<T, TreeOutRequest>) run_tree_out(ch, r);
        if constexpr (std::is_same_v<T, TreeInRequest>) run_tree_in(ch, r);
      },
      *req);
}

}  // namespace vessel::agent
