// What vessel-agent does for each request (docs/vmm/agent.md). Each runs in the process that
// serves one connection, answers on the channel, and returns when the connection is done.
#pragma once

#include "agent/channel.h"
#include "agent/protocol/messages.h"

namespace vessel::agent {

void serve_connection(Channel& ch);  // reads the request, dispatches

void run_exec(Channel& ch, const ExecRequest& req);
void run_health(Channel& ch);
void run_stats(Channel& ch);
void run_shutdown(Channel& ch);  // replies, then sync and power off: does not return
void run_copy_in(Channel& ch, const CopyInRequest& req);
void run_copy_out(Channel& ch, const CopyOutRequest& req);
// tree.cc (agent/protocol/tree.h)
void run_stat(Channel& ch, const StatRequest& req);
void run_tree_out(Channel& ch, const TreeOutRequest& req);
void run_tree_in(Channel& ch, const TreeInRequest& req);

// Pure parts, for the unit tests.
Stats read_stats(const char* meminfo, const char* loadavg, const char* mounts);
double read_uptime(const char* uptime_file);

}  // namespace vessel::agent
