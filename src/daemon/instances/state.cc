#include "daemon/instances/state.h"

namespace vessel::daemon {

std::string_view to_string(State s) {
  switch (s) {
    case State::Created: return "created";
    case State::Running: return "running";
    case State::Paused: return "paused";
    case State::Stopped: return "stopped";
    case State::Suspended: return "suspended";
    case State::Checkpointed: return "checkpointed";
    case State::Incoming: return "incoming";
  }
  return "unknown";
}

std::string_view to_string(Action a) {
  switch (a) {
    case Action::Start: return "start";
    case Action::Stop: return "stop";
    case Action::Pause: return "pause";
    case Action::Resume: return "resume";
    case Action::Restart: return "restart";
    case Action::Delete: return "delete";
    case Action::Suspend: return "suspend";
    case Action::Checkpoint: return "checkpoint";
    case Action::Restore: return "restore";
  }
  return "unknown";
}

std::optional<State> parse_state(std::string_view t) {
  for (State s : {State::Created, State::Running, State::Paused, State::Stopped, State::Suspended, State::Checkpointed,
                  State::Incoming})
    if (to_string(s) == t) return s;
  return std::nullopt;
}

std::optional<Action> parse_action(std::string_view t) {
  for (Action a : {Action::Start, Action::Stop, Action::Pause, Action::Resume, Action::Restart, Action::Delete,
                   Action::Suspend, Action::Checkpoint, Action::Restore})
    if (to_string(a) == t) return a;
  return std::nullopt;
}

Result<State> transition(State from, Action action, bool force) {
  auto refuse = [&](std::string_view hint) -> Result<State> {
    return Unexpected(Error(EBUSY, fmt::format("cannot {}: instance is {}", to_string(action), to_string(from)))
                          .with_hint(std::string(hint)));
  };
  // Its vessel-vmm is receiving the VM; the migration decides (docs/daemon/migrate.md).
  if (from == State::Incoming && !(action == Action::Delete && force))
    return refuse("it is arriving by live migration; wait for it, or delete it with --force to abandon it");
  switch (action) {
    case Action::Start:
      if (from == State::Created || from == State::Stopped) return State::Running;
      if (from == State::Paused) return refuse("it is paused; resume it instead");
      if (from == State::Suspended) return refuse("it is suspended; resume it, or stop it to discard the saved state");
      if (from == State::Checkpointed) return refuse("it is checkpointed; restore it, or stop it to discard the checkpoint");
      return refuse("it is already running");
    case Action::Stop:
      if (has_process(from) || is_saved(from)) return State::Stopped;
      return refuse("it is not running");
    case Action::Pause:
      if (from == State::Running) return State::Paused;
      // Nothing runs in the other states: starting it only to pause it is never what was meant.
      if (from == State::Paused) return refuse("it is already paused");
      if (from == State::Suspended) return refuse("nothing runs: it is saved to disk (`vessel resume` runs it again)");
      if (from == State::Checkpointed) return refuse("nothing runs: it is checkpointed (`vessel restore` runs it again)");
      return refuse("nothing runs, so there is nothing to pause");
    case Action::Resume:
      if (from == State::Paused || is_saved(from)) return State::Running;
      return refuse("only a paused, suspended or checkpointed instance can be resumed");
    case Action::Suspend:
      if (has_process(from)) return State::Suspended;
      return refuse(from == State::Suspended ? "it is already suspended" : "only a running or paused instance can be suspended");
    case Action::Checkpoint:
      if (has_process(from)) return State::Checkpointed;
      return refuse(from == State::Checkpointed ? "it is already checkpointed" : "only a running or paused container can be checkpointed");
    case Action::Restore:
      if (from == State::Checkpointed) return State::Running;
      return refuse("only a checkpointed container can be restored");
    case Action::Restart:
      return State::Running;
    case Action::Delete:
      if (!has_process(from) || force) return State::Stopped;
      return refuse("stop it first, or delete with --force");
  }
  return refuse("");
}

}  // namespace vessel::daemon
