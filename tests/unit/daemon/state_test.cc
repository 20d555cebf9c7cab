#include <gtest/gtest.h>

#include "daemon/instances/state.h"

namespace vessel::daemon {
namespace {

struct Case {
  State from;
  Action action;
  bool allowed;
  State to;
};

TEST(StateMachine, FullTransitionTable) {
  const Case cases[] = {
      {State::Created, Action::Start, true, State::Running},   {State::Stopped, Action::Start, true, State::Running},
      {State::Running, Action::Start, false, {}},              {State::Paused, Action::Start, false, {}},
      {State::Running, Action::Stop, true, State::Stopped},    {State::Paused, Action::Stop, true, State::Stopped},
      {State::Created, Action::Stop, false, {}},               {State::Stopped, Action::Stop, false, {}},
      {State::Running, Action::Pause, true, State::Paused},    {State::Paused, Action::Pause, false, {}},
      {State::Created, Action::Pause, false, {}},              {State::Stopped, Action::Pause, false, {}},
      {State::Paused, Action::Resume, true, State::Running},   {State::Running, Action::Resume, false, {}},
      {State::Created, Action::Resume, false, {}},             {State::Stopped, Action::Resume, false, {}},
      {State::Created, Action::Restart, true, State::Running}, {State::Running, Action::Restart, true, State::Running},
      {State::Paused, Action::Restart, true, State::Running},  {State::Stopped, Action::Restart, true, State::Running},
      {State::Created, Action::Delete, true, State::Stopped},  {State::Stopped, Action::Delete, true, State::Stopped},
      {State::Running, Action::Delete, false, {}},             {State::Paused, Action::Delete, false, {}},
  };
  for (const auto& c : cases) {
    auto r = transition(c.from, c.action);
    EXPECT_EQ(r.has_value(), c.allowed) << to_string(c.action) << " from " << to_string(c.from);
    if (r && c.allowed) {
      EXPECT_EQ(*r, c.to);
    }
    if (!r) {
      EXPECT_EQ(r.error().errnum(), EBUSY);
      // The answer names the current state.
      EXPECT_NE(r.error().message().find(std::string(to_string(c.from))), std::string::npos) << r.error().message();
      EXPECT_FALSE(r.error().hint().empty());
    }
  }
}

TEST(StateMachine, ForceDeletesRunningInstances) {
  EXPECT_TRUE(transition(State::Running, Action::Delete, true));
  EXPECT_TRUE(transition(State::Paused, Action::Delete, true));
}

// Suspend (VMs) and checkpoint (containers): saved to disk, no process (docs/daemon/suspend.md).
TEST(StateMachine, SuspendAndCheckpoint) {
  const Case cases[] = {
      {State::Running, Action::Suspend, true, State::Suspended},      {State::Paused, Action::Suspend, true, State::Suspended},
      {State::Created, Action::Suspend, false, {}},                   {State::Stopped, Action::Suspend, false, {}},
      {State::Suspended, Action::Suspend, false, {}},                 {State::Suspended, Action::Resume, true, State::Running},
      {State::Suspended, Action::Start, false, {}},                   {State::Suspended, Action::Pause, false, {}},
      {State::Suspended, Action::Stop, true, State::Stopped},         {State::Suspended, Action::Delete, true, State::Stopped},
      {State::Suspended, Action::Restore, false, {}},                 {State::Suspended, Action::Checkpoint, false, {}},
      {State::Running, Action::Checkpoint, true, State::Checkpointed}, {State::Paused, Action::Checkpoint, true, State::Checkpointed},
      {State::Stopped, Action::Checkpoint, false, {}},                {State::Checkpointed, Action::Checkpoint, false, {}},
      {State::Checkpointed, Action::Restore, true, State::Running},   {State::Checkpointed, Action::Resume, true, State::Running},
      {State::Running, Action::Restore, false, {}},                   {State::Stopped, Action::Restore, false, {}},
      {State::Checkpointed, Action::Start, false, {}},                {State::Checkpointed, Action::Stop, true, State::Stopped},
      {State::Checkpointed, Action::Delete, true, State::Stopped},    {State::Checkpointed, Action::Restart, true, State::Running},
  };
  for (const auto& c : cases) {
    auto r = transition(c.from, c.action);
    EXPECT_EQ(r.has_value(), c.allowed) << to_string(c.action) << " from " << to_string(c.from);
    if (r && c.allowed) {
      EXPECT_EQ(*r, c.to) << to_string(c.action) << " from " << to_string(c.from);
    }
    if (!r) {
      EXPECT_NE(r.error().message().find(std::string(to_string(c.from))), std::string::npos) << r.error().message();
    }
  }
  EXPECT_FALSE(has_process(State::Suspended));
  EXPECT_FALSE(has_process(State::Checkpointed));
  EXPECT_TRUE(is_saved(State::Suspended));
  EXPECT_FALSE(is_saved(State::Stopped));
  EXPECT_NE(transition(State::Suspended, Action::Start).error().hint().find("resume"), std::string::npos);
}

TEST(StateMachine, PausingWhatDoesNotRunSaysSoAndNeverSuggestsStartingIt) {
  for (State s : {State::Created, State::Stopped, State::Suspended, State::Checkpointed}) {
    auto r = transition(s, Action::Pause);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().hint().find("nothing"), std::string::npos) << r.error().hint();
    EXPECT_EQ(r.error().hint().find("start it"), std::string::npos) << r.error().hint();
  }
  EXPECT_NE(transition(State::Suspended, Action::Pause).error().hint().find("vessel resume"), std::string::npos);
  EXPECT_NE(transition(State::Checkpointed, Action::Pause).error().hint().find("vessel restore"), std::string::npos);
  EXPECT_EQ(transition(State::Paused, Action::Pause).error().hint(), "it is already paused");
}

TEST(StateMachine, NamesRoundTrip) {
  for (State s : {State::Created, State::Running, State::Paused, State::Stopped, State::Suspended, State::Checkpointed})
    EXPECT_EQ(parse_state(to_string(s)), s);
  for (Action a : {Action::Start, Action::Stop, Action::Pause, Action::Resume, Action::Restart, Action::Delete,
                   Action::Suspend, Action::Checkpoint, Action::Restore})
    EXPECT_EQ(parse_action(to_string(a)), a);
  EXPECT_FALSE(parse_state("zombie"));
  EXPECT_FALSE(parse_action("explode"));
}

}  // namespace
}  // namespace vessel::daemon
