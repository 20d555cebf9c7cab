// The lifecycle shared by VMs and containers, as a pure transition table:
//
//   created --start--> running <--pause/resume--> paused
//   running|paused --stop--> stopped --start--> running
//   created|stopped --delete--> (gone); restart = stop (if needed) + start
//   running|paused --suspend--> suspended (a VM saved to disk) --resume--> running
//   running|paused --checkpoint--> checkpointed (a container dumped by CRIU) --restore|resume--> running
//   suspended|checkpointed --stop--> stopped (the saved state is discarded)
//   incoming: a VM arriving by live migration (vm_migrate.cc); only delete --force until it runs
//
// An action that is not allowed in the current state is answered 409 with that state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon {

enum class State { Created, Running, Paused, Stopped, Suspended, Checkpointed, Incoming };
enum class Action { Start, Stop, Pause, Resume, Restart, Delete, Suspend, Checkpoint, Restore };

std::string_view to_string(State s);
std::string_view to_string(Action a);
std::optional<State> parse_state(std::string_view text);
std::optional<Action> parse_action(std::string_view text);

// The state after `action` succeeds, or EBUSY ("cannot pause: instance is stopped") when the
// action is not allowed in `from`. `force` lets delete proceed from any state (it stops first).
Result<State> transition(State from, Action action, bool force = false);

// Is a guest process expected to exist in this state?
inline bool has_process(State s) { return s == State::Running || s == State::Paused; }

// Does an instance in this state hold its CPU and memory reservation (admission counts it)?
// Created, stopped and saved ones hold none: only a guest process uses the host's resources.
inline bool holds_resources(State s) { return has_process(s); }

// Is the guest saved to disk, waiting for resume/restore (docs/daemon/suspend.md)?
inline bool is_saved(State s) { return s == State::Suspended || s == State::Checkpointed; }

}  // namespace vessel::daemon
