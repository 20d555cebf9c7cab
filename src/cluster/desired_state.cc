#include "cluster/desired_state.h"

#include "base/log.h"

namespace vessel::cluster {

namespace {
std::string key_of(const std::string& name) { return kInstancesPrefix + name; }

Result<InstanceRecord> record_of(const etcd::KeyValue& kv) {
  auto record = TRY_CTX(parse_instance_record(kv.value), "{}", kv.key);
  if (key_of(record.name) != kv.key) return fail(EPROTO, "{} holds the record of {}", kv.key, record.name);
  record.revision = kv.mod_revision;
  return record;
}
}  // namespace

Result<InstanceRecord> DesiredState::create(InstanceRecord record) const {
  record.node.clear();
  record.generation = 0;
  std::string key = key_of(record.name);
  auto done = TRY_CTX(etcd_.txn(etcd::Txn{{etcd::Compare::absent(key)},
                                          {etcd::Operation::put(key, json::dump(instance_record_json(record)))},
                                          {}}),
                      "store the clustered instance {}", record.name);
  if (!done.succeeded)
    return Unexpected(Error(EEXIST, fmt::format("the cluster already has an instance named {}", record.name))
                          .with_hint("choose another --name, or remove that one first (vessel rm)"));
  record.revision = done.revision;
  return record;
}

Result<std::optional<InstanceRecord>> DesiredState::get(const std::string& name) const {
  auto kv = TRY_CTX(etcd_.get(key_of(name)), "read the clustered instance {}", name);
  if (!kv) return std::optional<InstanceRecord>();
  return std::optional<InstanceRecord>(TRY(record_of(*kv)));
}

Result<InstanceList> DesiredState::list() const {
  auto range = TRY_CTX(etcd_.get_prefix(kInstancesPrefix), "list the clustered instances");
  InstanceList out;
  out.revision = range.revision;
  for (const auto& kv : range.kvs) {
    auto record = record_of(kv);
    if (!record) {
      log::warn("cluster: skipping a bad instance record: {}", record.error().to_string());
      continue;
    }
    out.records.push_back(std::move(*record));
  }
  return out;
}

Result<std::optional<InstanceRecord>> DesiredState::place(const InstanceRecord& record, const std::string& node,
                                                          const std::vector<etcd::Compare>& guards) const {
  InstanceRecord moved = record;
  moved.node = node;
  moved.generation = record.generation + 1;
  std::string key = key_of(record.name);
  etcd::Txn txn{guards, {etcd::Operation::put(key, json::dump(instance_record_json(moved)))}, {}};
  txn.compare.push_back(etcd::Compare::mod_revision_is(key, record.revision));
  auto done = TRY_CTX(etcd_.txn(txn), "place {} on {}", record.name, node);
  if (!done.succeeded) return std::optional<InstanceRecord>();
  moved.revision = done.revision;
  return std::optional<InstanceRecord>(std::move(moved));
}

Result<std::optional<InstanceRecord>> DesiredState::replace(const InstanceRecord& record) const {
  std::string key = key_of(record.name);
  auto done = TRY_CTX(etcd_.txn(etcd::Txn{{etcd::Compare::mod_revision_is(key, record.revision)},
                                          {etcd::Operation::put(key, json::dump(instance_record_json(record)))},
                                          {}}),
                      "update the clustered instance {}", record.name);
  if (!done.succeeded) return std::optional<InstanceRecord>();
  InstanceRecord written = record;
  written.revision = done.revision;
  return std::optional<InstanceRecord>(std::move(written));
}

Result<InstanceRecord> DesiredState::update(const std::string& name,
                                            const std::function<Result<void>(InstanceRecord&)>& change) const {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto read = TRY(get(name));
    if (!read) return fail(ENOENT, "the cluster has no instance named {}", name);
    InstanceRecord record = std::move(*read);
    TRY(change(record));
    if (auto written = TRY(replace(record))) return std::move(*written);
  }
  return Unexpected(Error(ESTALE, fmt::format("the clustered instance {} kept changing while being updated", name))
                        .with_hint("try again"));
}

Result<void> DesiredState::remove(const InstanceRecord& record) const {
  std::string key = key_of(record.name);
  auto done = TRY_CTX(etcd_.txn(etcd::Txn{{etcd::Compare::mod_revision_is(key, record.revision)},
                                          {etcd::Operation::remove(key)},
                                          {}}),
                      "remove the clustered instance {}", record.name);
  if (!done.succeeded)
    return Unexpected(Error(ESTALE, fmt::format("the clustered instance {} changed while being removed", record.name))
                          .with_hint("try again"));
  return {};
}

}  // namespace vessel::cluster
