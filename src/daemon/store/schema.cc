#include "daemon/store/schema.h"

#include "daemon/store/store.h"

namespace vessel::daemon {

namespace {

// Schema migrations: entry i takes a database from version i to version i + 1.
const char* const kMigrations[] = {
    // 0 -> 1: instances
    "CREATE TABLE instances ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN ('vm','container')),"
    " spec TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " pid_start INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);",
    // 1 -> 2: images
    "CREATE TABLE images ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN ('vm','container')),"
    " digest TEXT NOT NULL,"
    " info TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);",
    // 2 -> 3: how each instance's guest last ended
    ("ALTER TABLE instances ADD COLUMN exit_code INTEGER;"
     "ALTER TABLE instances ADD COLUMN exit_reason TEXT NOT NULL DEFAULT '';"),  // one migration, two statements
    // 3 -> 4: the user-namespace range of each --userns=auto container, freed with the instance
    "CREATE TABLE id_ranges ("
    " instance TEXT PRIMARY KEY NOT NULL REFERENCES instances(name) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL,"
    " gid INTEGER NOT NULL,"
    " count INTEGER NOT NULL);",
    // 4 -> 5: networks and the address each instance holds on one (freed with the instance)
    ("CREATE TABLE networks ("
     " name TEXT PRIMARY KEY NOT NULL,"
     " spec TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE TABLE addresses ("
     " instance TEXT PRIMARY KEY NOT NULL REFERENCES instances(name) ON DELETE CASCADE,"
     " network TEXT NOT NULL REFERENCES networks(name),"
     " address TEXT NOT NULL,"
     " UNIQUE (network, address));"),
    // 5 -> 6: pools (docs/daemon/pools.md); members name theirs in their spec
    "CREATE TABLE pools ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " spec TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);",
    // 6 -> 7: restart policies' bookkeeping (docs/daemon/restart.md), forgotten with the instance
    "CREATE TABLE restart_state ("
    " instance TEXT PRIMARY KEY NOT NULL REFERENCES instances(name) ON DELETE CASCADE,"
    " count INTEGER NOT NULL,"
    " next_delay_ms INTEGER NOT NULL,"
    " user_stopped INTEGER NOT NULL,"
    " pending INTEGER NOT NULL);",
    // 7 -> 8: scheduled backups (docs/daemon/backup.md#schedules), forgotten with the instance
    "CREATE TABLE backup_schedules ("
    " instance TEXT PRIMARY KEY NOT NULL REFERENCES instances(name) ON DELETE CASCADE,"
    " spec TEXT NOT NULL,"
    " last_run INTEGER NOT NULL DEFAULT 0,"
    " last_file TEXT NOT NULL DEFAULT '',"
    " last_error TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL);",
    // 8 -> 9: named volumes (docs/daemon/volumes.md); their users name them in their specs
    "CREATE TABLE volumes ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " spec TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);",
    // 9 -> 10: when each instance's last run started and ended (`vessel ls`), and whether the
    // kernel's OOM killer struck in its cgroup (inspect's oom_killed)
    ("ALTER TABLE instances ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE instances ADD COLUMN finished_at INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE instances ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;"),
};
static_assert(sizeof kMigrations / sizeof kMigrations[0] == kSchemaVersion);

}  // namespace

std::span<const char* const> schema_migrations() { return kMigrations; }

}  // namespace vessel::daemon
