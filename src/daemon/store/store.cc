#include "daemon/store/store.h"
#include "daemon/store/schema.h"

#include <ctime>

namespace vessel::daemon {

namespace {


int errno_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return ENOSPC;
    case SQLITE_CONSTRAINT: return EEXIST;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return EUCLEAN;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return EBUSY;
    case SQLITE_READONLY:
    case SQLITE_PERM: return EROFS;
    case SQLITE_CANTOPEN: return ENOENT;
    case SQLITE_IOERR: return EIO;
    default: return EIO;
  }
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Result<void> ok(const char* what) const {
    if (rc_ != SQLITE_OK) return Unexpected(sqlite_error(db_, rc_, what));
    return {};
  }
  void bind(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  // SQLITE_ROW -> true, SQLITE_DONE -> false.
  Result<bool> step(const char* what) {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Unexpected(sqlite_error(db_, rc, what));
  }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

int64_t now() { return static_cast<int64_t>(::time(nullptr)); }

InstanceRow read_instance(const Stmt& s) {
  InstanceRow row{s.text(0), s.text(1), s.text(2), s.text(3), s.integer(4), s.integer(5), s.integer(6), s.integer(7), {}, {}};
  if (!s.is_null(8)) row.exit_code = s.integer(8);
  row.exit_reason = s.text(9);
  row.started_at = s.integer(10);
  row.finished_at = s.integer(11);
  row.oom_killed = s.integer(12) != 0;
  return row;
}

ImageRow read_image(const Stmt& s) {
  return ImageRow{s.text(0), s.text(1), s.text(2), s.text(3), s.integer(4)};
}

}  // namespace

Error sqlite_error(sqlite3* db, int rc, const std::string& what) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  Error e(errno_for(rc), fmt::format("{}: {}", what, msg));
  if ((rc & 0xff) == SQLITE_FULL)
    return std::move(e).with_hint("the disk holding the state directory is full; free space and retry (nothing was changed)");
  return e;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<Store> store(new Store(raw));
  if (rc != SQLITE_OK) return Unexpected(sqlite_error(raw, rc, fmt::format("open database {}", path)));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  // Read something first: a file that is not a database fails here, before any write.
  {
    Stmt check(raw, "PRAGMA quick_check");
    auto corrupt = [&](const Error& e) {
      return Unexpected(Error(EUCLEAN, fmt::format("database {} is corrupt or not a database ({})", path, e.message()))
                            .with_hint("restore it from a backup or move it away; vesseld never recreates it silently"));
    };
    if (auto ok = check.ok("check database"); !ok) return corrupt(ok.error());
    auto row = check.step("check database");
    if (!row) return corrupt(row.error());
    if (!*row || check.text(0) != "ok")
      return corrupt(Error(EUCLEAN, *row ? check.text(0) : "no result"));
  }
  TRY_CTX(store->exec("PRAGMA journal_mode=WAL"), "database {}", path);
  TRY_CTX(store->exec("PRAGMA synchronous=FULL"), "database {}", path);
  TRY_CTX(store->exec("PRAGMA foreign_keys=ON"), "database {}", path);
  TRY_CTX(store->migrate(), "database {}", path);
  return store;
}

Store::~Store() { sqlite3_close_v2(db_); }

Result<void> Store::exec(const std::string& sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    sqlite3_free(msg);
    return Unexpected(sqlite_error(db_, rc, sql.substr(0, 40)));
  }
  return {};
}

int Store::schema_version() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "PRAGMA user_version");
  auto row = s.step("read schema version");
  return row && *row ? static_cast<int>(s.integer(0)) : -1;
}

Result<void> Store::migrate() {
  int version;
  {
    Stmt s(db_, "PRAGMA user_version");
    TRY(s.ok("read schema version"));
    TRY(s.step("read schema version"));
    version = static_cast<int>(s.integer(0));
  }
  if (version > kSchemaVersion)
    return Unexpected(Error(EPROTO, fmt::format("schema version {} is newer than this vesseld understands ({})",
                                                version, kSchemaVersion))
                          .with_hint("run the newer vesseld that wrote it, or restore a backup"));
  if (version < 0) return fail(EUCLEAN, "negative schema version {}", version);
  for (int v = version; v < kSchemaVersion; ++v) {
    // Each step in its own transaction, with the version bump inside it.
    TRY(exec("BEGIN IMMEDIATE"));
    auto step = exec(schema_migrations()[static_cast<size_t>(v)]);
    if (step) step = exec(fmt::format("PRAGMA user_version={}", v + 1));
    if (step) step = exec("COMMIT");
    if (!step) {
      (void)exec("ROLLBACK");
      return Unexpected(std::move(step).error().add_context(fmt::format("migrate schema {} -> {}", v, v + 1)));
    }
  }
  return {};
}

Result<void> Store::insert_instance(const InstanceRow& row) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT INTO instances(name,type,spec,state,pid,pid_start,created_at,updated_at) VALUES(?,?,?,?,?,?,?,?)");
  TRY(s.ok("insert instance"));
  int64_t t = now();
  s.bind(1, row.name); s.bind(2, row.type); s.bind(3, row.spec); s.bind(4, row.state);
  s.bind(5, row.pid); s.bind(6, row.pid_start); s.bind(7, t); s.bind(8, t);
  auto r = s.step("insert instance");
  if (!r && r.error().errnum() == EEXIST)
    return fail(EEXIST, "an instance named {} already exists", row.name);
  TRY(r);
  return {};
}

Result<std::optional<InstanceRow>> Store::get_instance(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name,type,spec,state,pid,pid_start,created_at,updated_at,exit_code,exit_reason,started_at,finished_at,oom_killed FROM instances WHERE name=?");
  TRY(s.ok("read instance"));
  s.bind(1, name);
  if (!TRY(s.step("read instance"))) return std::optional<InstanceRow>();
  return std::optional<InstanceRow>(read_instance(s));
}

Result<std::vector<InstanceRow>> Store::list_instances() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name,type,spec,state,pid,pid_start,created_at,updated_at,exit_code,exit_reason,started_at,finished_at,oom_killed FROM instances ORDER BY name");
  TRY(s.ok("list instances"));
  std::vector<InstanceRow> out;
  while (TRY(s.step("list instances"))) out.push_back(read_instance(s));
  return out;
}

Result<void> Store::update_instance_state(const std::string& name, const std::string& state, int64_t pid,
                                          int64_t pid_start) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE instances SET state=?, pid=?, pid_start=?, updated_at=? WHERE name=?");
  TRY(s.ok("update instance"));
  s.bind(1, state); s.bind(2, pid); s.bind(3, pid_start); s.bind(4, now()); s.bind(5, name);
  TRY(s.step("update instance"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no instance named {}", name);
  return {};
}

Result<void> Store::delete_instance(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "DELETE FROM instances WHERE name=?");
  TRY(s.ok("delete instance"));
  s.bind(1, name);
  TRY(s.step("delete instance"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no instance named {}", name);
  return {};
}

Result<void> Store::set_instance_exit(const std::string& name, std::optional<int64_t> code, const std::string& reason,
                                      bool oom_killed) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE instances SET exit_code=?, exit_reason=?, oom_killed=?, finished_at=? WHERE name=?");
  TRY(s.ok("record exit"));
  if (code) s.bind(1, *code);
  else s.bind_null(1);
  s.bind(2, reason); s.bind(3, int64_t{oom_killed}); s.bind(4, now()); s.bind(5, name);
  TRY(s.step("record exit"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no instance named {}", name);
  return {};
}

Result<void> Store::clear_instance_exit(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE instances SET exit_code=NULL, exit_reason='', oom_killed=0, started_at=? WHERE name=?");
  TRY(s.ok("record start"));
  s.bind(1, now()); s.bind(2, name);
  TRY(s.step("record start"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no instance named {}", name);
  return {};
}

Result<std::optional<IdRange>> Store::id_range(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT uid,gid,count FROM id_ranges WHERE instance=?");
  TRY(s.ok("read id range"));
  s.bind(1, name);
  if (!TRY(s.step("read id range"))) return std::optional<IdRange>();
  return std::optional<IdRange>(IdRange{static_cast<uint32_t>(s.integer(0)), static_cast<uint32_t>(s.integer(1)),
                                        static_cast<uint32_t>(s.integer(2))});
}

Result<size_t> Store::id_range_count() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT COUNT(*) FROM id_ranges");
  TRY(s.ok("count id ranges"));
  TRY(s.step("count id ranges"));
  return static_cast<size_t>(s.integer(0));
}

Result<IdRange> Store::allocate_id_range(const std::string& name, const IdPicker& pick) {
  std::lock_guard lock(mutex_);  // the list and the insert as one step
  std::vector<IdRange> taken;
  {
    Stmt s(db_, "SELECT uid,gid,count FROM id_ranges");
    TRY(s.ok("list id ranges"));
    while (TRY(s.step("list id ranges")))
      taken.push_back({static_cast<uint32_t>(s.integer(0)), static_cast<uint32_t>(s.integer(1)),
                       static_cast<uint32_t>(s.integer(2))});
  }
  auto range = pick(taken);
  if (!range)
    return Unexpected(Error(ENOSPC, fmt::format("no free user-namespace range left ({} in use)", taken.size()))
                          .with_hint("delete a --userns=auto container or give vesseld a larger --userns-pool"));
  Stmt s(db_, "INSERT INTO id_ranges(instance,uid,gid,count) VALUES(?,?,?,?)");
  TRY(s.ok("insert id range"));
  s.bind(1, name); s.bind(2, int64_t{range->uid}); s.bind(3, int64_t{range->gid}); s.bind(4, int64_t{range->count});
  TRY(s.step("insert id range"));
  return *range;
}

Result<void> Store::insert_network(const NetworkRow& row) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT INTO networks(name,spec,created_at) VALUES(?,?,?)");
  TRY(s.ok("insert network"));
  s.bind(1, row.name); s.bind(2, row.spec); s.bind(3, now());
  auto r = s.step("insert network");
  if (!r && r.error().errnum() == EEXIST) return fail(EEXIST, "a network named {} already exists", row.name);
  TRY(r);
  return {};
}

Result<std::optional<NetworkRow>> Store::get_network(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name,spec,created_at FROM networks WHERE name=?");
  TRY(s.ok("read network"));
  s.bind(1, name);
  if (!TRY(s.step("read network"))) return std::optional<NetworkRow>();
  return std::optional<NetworkRow>(NetworkRow{s.text(0), s.text(1), s.integer(2)});
}

Result<std::vector<NetworkRow>> Store::list_networks() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name,spec,created_at FROM networks ORDER BY name");
  TRY(s.ok("list networks"));
  std::vector<NetworkRow> out;
  while (TRY(s.step("list networks"))) out.push_back(NetworkRow{s.text(0), s.text(1), s.integer(2)});
  return out;
}

Result<void> Store::delete_network(const std::string& name) {
  std::lock_guard lock(mutex_);  // the member check and the delete as one step
  {
    Stmt s(db_, "SELECT instance FROM addresses WHERE network=? ORDER BY instance");
    TRY(s.ok("list network members"));
    s.bind(1, name);
    std::string members;
    while (TRY(s.step("list network members"))) members += (members.empty() ? "" : ", ") + s.text(0);
    if (!members.empty())
      return Unexpected(Error(EBUSY, fmt::format("network {} has members: {}", name, members))
                            .with_hint("delete those instances first (`vessel rm`)"));
  }
  Stmt s(db_, "DELETE FROM networks WHERE name=?");
  TRY(s.ok("delete network"));
  s.bind(1, name);
  TRY(s.step("delete network"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no network named {}", name);
  return {};
}

Result<std::string> Store::allocate_address(const std::string& name, const std::string& network, const AddressPicker& pick) {
  std::lock_guard lock(mutex_);  // the list and the insert as one step
  std::vector<std::string> taken;
  {
    Stmt s(db_, "SELECT address FROM addresses WHERE network=?");
    TRY(s.ok("list addresses"));
    s.bind(1, network);
    while (TRY(s.step("list addresses"))) taken.push_back(s.text(0));
  }
  auto address = pick(taken);
  if (!address)
    return Unexpected(Error(ENOSPC, fmt::format("network {} has no free address left ({} in use)", network, taken.size()))
                          .with_hint("delete instances on it, or create a network with a larger --subnet"));
  Stmt s(db_, "INSERT INTO addresses(instance,network,address) VALUES(?,?,?)");
  TRY(s.ok("insert address"));
  s.bind(1, name); s.bind(2, network); s.bind(3, *address);
  TRY(s.step("insert address"));
  return *address;
}

Result<std::optional<AddressRow>> Store::address_of(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT instance,network,address FROM addresses WHERE instance=?");
  TRY(s.ok("read address"));
  s.bind(1, name);
  if (!TRY(s.step("read address"))) return std::optional<AddressRow>();
  return std::optional<AddressRow>(AddressRow{s.text(0), s.text(1), s.text(2)});
}

Result<std::vector<AddressRow>> Store::list_addresses(const std::string& network) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, network.empty() ? "SELECT instance,network,address FROM addresses ORDER BY instance"
                              : "SELECT instance,network,address FROM addresses WHERE network=? ORDER BY instance");
  TRY(s.ok("list addresses"));
  if (!network.empty()) s.bind(1, network);
  std::vector<AddressRow> out;
  while (TRY(s.step("list addresses"))) out.push_back(AddressRow{s.text(0), s.text(1), s.text(2)});
  return out;
}

Result<void> Store::insert_image(const ImageRow& row) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT INTO images(name,type,digest,info,created_at) VALUES(?,?,?,?,?)");
  TRY(s.ok("insert image"));
  s.bind(1, row.name); s.bind(2, row.type); s.bind(3, row.digest); s.bind(4, row.info); s.bind(5, now());
  auto r = s.step("insert image");
  if (!r && r.error().errnum() == EEXIST) return fail(EEXIST, "an image named {} already exists", row.name);
  TRY(r);
  return {};
}

Result<std::optional<ImageRow>> Store::get_image(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name,type,digest,info,created_at FROM images WHERE name=?");
  TRY(s.ok("read image"));
  s.bind(1, name);
  if (!TRY(s.step("read image"))) return std::optional<ImageRow>();
  return std::optional<ImageRow>(read_image(s));
}

Result<std::vector<ImageRow>> Store::list_images() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name,type,digest,info,created_at FROM images ORDER BY name");
  TRY(s.ok("list images"));
  std::vector<ImageRow> out;
  while (TRY(s.step("list images"))) out.push_back(read_image(s));
  return out;
}

Result<void> Store::delete_image(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "DELETE FROM images WHERE name=?");
  TRY(s.ok("delete image"));
  s.bind(1, name);
  TRY(s.step("delete image"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no image named {}", name);
  return {};
}

Result<void> Store::insert_spec_row(const char* table, const char* what, const SpecRow& row) {
  std::lock_guard lock(mutex_);
  std::string sql = fmt::format("INSERT INTO {}(name,spec,created_at) VALUES(?,?,?)", table);
  Stmt s(db_, sql.c_str());
  TRY(s.ok("insert"));
  s.bind(1, row.name); s.bind(2, row.spec); s.bind(3, now());
  auto r = s.step("insert");
  if (!r && r.error().errnum() == EEXIST) return fail(EEXIST, "a {} named {} already exists", what, row.name);
  TRY_CTX(r, "insert {}", what);
  return {};
}

Result<std::optional<SpecRow>> Store::get_spec_row(const char* table, const char* what, const std::string& name) {
  std::lock_guard lock(mutex_);
  std::string sql = fmt::format("SELECT name,spec,created_at FROM {} WHERE name=?", table);
  Stmt s(db_, sql.c_str());
  TRY_CTX(s.ok("read"), "read {}", what);
  s.bind(1, name);
  if (!TRY_CTX(s.step("read"), "read {}", what)) return std::optional<SpecRow>();
  return std::optional<SpecRow>(SpecRow{s.text(0), s.text(1), s.integer(2)});
}

Result<std::vector<SpecRow>> Store::list_spec_rows(const char* table, const char* what) {
  std::lock_guard lock(mutex_);
  std::string sql = fmt::format("SELECT name,spec,created_at FROM {} ORDER BY name", table);
  Stmt s(db_, sql.c_str());
  TRY_CTX(s.ok("list"), "list {}s", what);
  std::vector<SpecRow> out;
  while (TRY_CTX(s.step("list"), "list {}s", what)) out.push_back(SpecRow{s.text(0), s.text(1), s.integer(2)});
  return out;
}

Result<void> Store::delete_spec_row(const char* table, const char* what, const std::string& name) {
  std::lock_guard lock(mutex_);
  std::string sql = fmt::format("DELETE FROM {} WHERE name=?", table);
  Stmt s(db_, sql.c_str());
  TRY_CTX(s.ok("delete"), "delete {}", what);
  s.bind(1, name);
  TRY_CTX(s.step("delete"), "delete {}", what);
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no {} named {}", what, name);
  return {};
}

Result<void> Store::insert_pool(const PoolRow& row) { return insert_spec_row("pools", "pool", row); }
Result<std::optional<PoolRow>> Store::get_pool(const std::string& name) { return get_spec_row("pools", "pool", name); }
Result<std::vector<PoolRow>> Store::list_pools() { return list_spec_rows("pools", "pool"); }
Result<void> Store::delete_pool(const std::string& name) { return delete_spec_row("pools", "pool", name); }

Result<void> Store::insert_volume(const VolumeRow& row) { return insert_spec_row("volumes", "volume", row); }
Result<std::optional<VolumeRow>> Store::get_volume(const std::string& name) { return get_spec_row("volumes", "volume", name); }
Result<std::vector<VolumeRow>> Store::list_volumes() { return list_spec_rows("volumes", "volume"); }
Result<void> Store::delete_volume(const std::string& name) { return delete_spec_row("volumes", "volume", name); }

Result<void> Store::update_pool(const std::string& name, const std::string& spec) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE pools SET spec=? WHERE name=?");
  TRY(s.ok("update pool"));
  s.bind(1, spec); s.bind(2, name);
  TRY(s.step("update pool"));
  if (sqlite3_changes(db_) == 0) return fail(ENOENT, "no pool named {}", name);
  return {};
}

Result<RestartState> Store::restart_state(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT count,next_delay_ms,user_stopped,pending FROM restart_state WHERE instance=?");
  TRY(s.ok("read restart state"));
  s.bind(1, name);
  if (!TRY(s.step("read restart state"))) return RestartState{};
  return RestartState{static_cast<uint32_t>(s.integer(0)), static_cast<uint64_t>(s.integer(1)), s.integer(2) != 0,
                      s.integer(3) != 0};
}

Result<void> Store::set_restart_state(const std::string& name, const RestartState& state) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT OR REPLACE INTO restart_state (instance,count,next_delay_ms,user_stopped,pending) VALUES (?,?,?,?,?)");
  TRY(s.ok("record restart state"));
  s.bind(1, name);
  s.bind(2, static_cast<int64_t>(state.count));
  s.bind(3, static_cast<int64_t>(state.next_delay_ms));
  s.bind(4, int64_t{state.user_stopped});
  s.bind(5, int64_t{state.pending});
  auto done = s.step("record restart state");
  if (!done && done.error().errnum() == EEXIST) return fail(ENOENT, "no instance named {}", name);  // foreign key
  if (!done) return Unexpected(std::move(done).error());
  return {};
}

Result<void> Store::set_backup_schedule(const std::string& name, const std::string& spec) {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "INSERT INTO backup_schedules (instance,spec,created_at) VALUES (?,?,?) "
         "ON CONFLICT(instance) DO UPDATE SET spec=excluded.spec");
  TRY(s.ok("record backup schedule"));
  s.bind(1, name);
  s.bind(2, spec);
  s.bind(3, now());
  auto done = s.step("record backup schedule");
  if (!done && done.error().errnum() == EEXIST) return fail(ENOENT, "no instance named {}", name);  // foreign key
  if (!done) return Unexpected(std::move(done).error());
  return {};
}

Result<std::vector<BackupScheduleRow>> Store::list_backup_schedules() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT instance,spec,last_run,last_file,last_error,created_at FROM backup_schedules ORDER BY instance");
  TRY(s.ok("list backup schedules"));
  std::vector<BackupScheduleRow> out;
  while (TRY(s.step("list backup schedules")))
    out.push_back({s.text(0), s.text(1), s.integer(2), s.text(3), s.text(4), s.integer(5)});
  return out;
}

Result<void> Store::record_backup_run(const std::string& name, int64_t when, const std::string& file,
                                      const std::string& error) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE backup_schedules SET last_run=?, last_file=?, last_error=? WHERE instance=?");
  TRY(s.ok("record backup run"));
  s.bind(1, when);
  s.bind(2, file);
  s.bind(3, error);
  s.bind(4, name);
  TRY(s.step("record backup run"));
  return {};
}

Result<bool> Store::delete_backup_schedule(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "DELETE FROM backup_schedules WHERE instance=?");
  TRY(s.ok("delete backup schedule"));
  s.bind(1, name);
  TRY(s.step("delete backup schedule"));
  return sqlite3_changes(db_) > 0;
}

}  // namespace vessel::daemon
