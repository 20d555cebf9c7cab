// Storage that moves with failover (docs/cluster.md#storage): a clustered container with
// --cluster-storage backup is exported every second into the directory the three nodes share; a
// file written into it is in a backup; its node is killed with it; the copy another node starts is
// restored from that backup and has the file, at the next generation, and the older generation's
// archive is superseded. And a clean stop of the owning vesseld takes a last backup. A stopped
// copy is not exported again until something is done to it (vessel cp, a start).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "base/fd.h"
#include "cluster_nodes.h"

namespace vessel::test {
namespace {

using cluster_nodes::shells_of;
namespace fs = std::filesystem;

class ClusterStorage : public cluster_nodes::ClusterNodes {};

// The modification time of `path` (0: none).
int64_t mtime_ns(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST_F(ClusterStorage, ABackupFollowsTheInstanceToItsNewNode) {
  TempDir shared;
  std::string dir = shared.path + "/backups";
  std::vector<std::string> flags{"--cluster-backups", dir, "--cluster-backup-every", "1"};
  start_nodes(3, {flags, flags, flags});
  std::string archive = make_busybox_image_archive(images_.path + "/img", R"({"Cmd":["/bin/sh"]})");
  ASSERT_EQ(node(1).vessel({"image", "import", "-q", archive, "--name", "kept"}).status, 0) << node(1).log();

  std::string tok = token("stored");
  auto run = node(1).vessel({"run", "--cluster-wide", "--name", "db", "--restart", "always", "--cluster-storage",
                             "backup", "kept", "--", "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done", tok});
  ASSERT_EQ(run.status, 0) << run.err << logs();
  std::string first = wait_running("db", tok);
  ASSERT_FALSE(first.empty());
  auto wrote = node(1).vessel({"exec", "db", "--", "/bin/sh", "-c", "echo written-before-the-kill > /data.txt"});
  ASSERT_EQ(wrote.status, 0) << wrote.err;
  int64_t written_at = now_ns();
  std::string g1 = dir + "/db.g1.tar";
  ASSERT_TRUE(eventually([&] { return mtime_ns(g1) > written_at; }, 200)) << "no backup after the write: " << logs();

  // The node dies with its instance.
  int victim = first.back() - '0';
  int other = victim == 1 ? 2 : 1;
  auto killed_at = std::chrono::steady_clock::now();
  nodes_[size_t(victim - 1)]->daemon->stop(SIGKILL);
  for (pid_t p : shells_of(tok)) ::kill(p, SIGKILL);
  // As if it died in the middle of its next backup: a half-written archive nobody will finish.
  std::string partial = dir + "/.db.g1.tar.partial";
  ASSERT_TRUE(write_file(partial, "half an archive"));
  std::string second;
  ASSERT_TRUE(eventually([&] {
    auto j = node(other).vessel_json({"inspect", "db"});
    second = j.value("node", "");
    return j.value("state", "") == "running" && second != first && shells_of(tok).size() == 1;
  }, 600)) << logs();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::printf("failover with a restore from the backup: %.2f s (node %s -> %s)\n", seconds, first.c_str(), second.c_str());

  auto read = node(other).vessel({"exec", "db", "--", "cat", "/data.txt"});
  EXPECT_EQ(read.out, "written-before-the-kill\n") << read.err << logs();
  EXPECT_EQ(node(other).vessel_json({"inspect", "db"}).value("generation", 0), 2);
  EXPECT_TRUE(eventually([&] { return fs::exists(dir + "/db.g2.tar") && !fs::exists(g1); }, 200))
      << "the new owner's backups supersede the old generation's";
  EXPECT_FALSE(fs::exists(partial)) << "the old owner's half-written backup is left behind";
  EXPECT_EQ(node(other).vessel({"rm", "-f", "db"}).status, 0);
  EXPECT_TRUE(eventually([&] { return shells_of(tok).empty(); }, 200));
}

// A clean stop (SIGTERM) of the owning vesseld takes one last backup: with no periodic backup at all
// (an hour's period), the copy on the other node has what was written just before the stop.
TEST_F(ClusterStorage, ACleanStopBacksUpBeforeTheInstanceMoves) {
  TempDir shared;
  std::string dir = shared.path + "/backups";
  std::vector<std::string> flags{"--cluster-backups", dir, "--cluster-backup-every", "3600"};
  start_nodes(2, {flags, flags});
  std::string archive = make_busybox_image_archive(images_.path + "/img", R"({"Cmd":["/bin/sh"]})");
  for (int i : {1, 2}) ASSERT_EQ(node(i).vessel({"image", "import", "-q", archive, "--name", "kept"}).status, 0);
  std::string tok = token("clean");
  ASSERT_EQ(node(1).vessel({"run", "--cluster-wide", "--name", "db", "--restart", "always", "--cluster-storage", "backup",
                            "kept", "--", "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done", tok}).status, 0)
      << logs();
  std::string first = wait_running("db", tok);
  ASSERT_FALSE(first.empty());
  int owner = first.back() - '0', other = 3 - owner;
  ASSERT_EQ(node(other).vessel({"exec", "db", "--", "/bin/sh", "-c", "echo just-before-the-stop > /data.txt"}).status, 0);
  EXPECT_FALSE(fs::exists(dir + "/db.g1.tar")) << "no periodic backup within the hour";
  nodes_[size_t(owner - 1)]->daemon->stop(SIGTERM);
  ASSERT_TRUE(fs::exists(dir + "/db.g1.tar")) << logs();
  ASSERT_TRUE(eventually([&] {
    auto j = node(other).vessel_json({"inspect", "db"});
    return j.value("state", "") == "running" && j.value("generation", 0) == 2;
  }, 400)) << logs();
  EXPECT_EQ(node(other).vessel({"exec", "db", "--", "cat", "/data.txt"}).out, "just-before-the-stop\n") << logs();
  EXPECT_EQ(node(other).vessel({"rm", "-f", "db"}).status, 0);
  EXPECT_TRUE(eventually([&] { return shells_of(tok).empty(); }, 200));
}

// How many times `text` occurs in `log`.
size_t count_of(const std::string& log, const std::string& text) {
  size_t n = 0;
  for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) ++n;
  return n;
}

// A stopped copy whose last export is in place is not exported again every period; a file copied
// into it is in the next export; once started it is exported every period again.
TEST_F(ClusterStorage, AStoppedCopyIsExportedAgainOnlyWhenSomethingChanged) {
  TempDir shared;
  std::string dir = shared.path + "/backups";
  start_nodes(1, {{"--cluster-backups", dir, "--cluster-backup-every", "1", "--log-level", "debug"}});
  std::string tok = token("at-rest");
  // --restart always: `vessel start` of a clustered copy the reconciler stopped starts it again.
  auto made = run_clustered(node(1), "db", tok, {"--restart", "always", "--cluster-storage", "backup"});
  ASSERT_EQ(made.status, 0) << made.err << logs();
  ASSERT_FALSE(wait_running("db", tok).empty());
  ASSERT_EQ(node(1).vessel({"stop", "db"}).status, 0) << logs();
  ASSERT_EQ(where(node(1), "db").second, "stopped");

  const std::string exported = "db exported:", skipped = "db is at rest and unchanged since its backup";
  ASSERT_TRUE(eventually([&] { return count_of(node(1).log(), skipped) >= 1; }, 400))
      << "a stopped copy is exported every period: " << logs();
  size_t exports = count_of(node(1).log(), exported), skips = count_of(node(1).log(), skipped);
  ASSERT_TRUE(eventually([&] { return count_of(node(1).log(), skipped) >= skips + 2; }, 400)) << logs();
  EXPECT_EQ(count_of(node(1).log(), exported), exports) << "two periods later";

  // vessel cp into the stopped copy: the next period exports it, with the file.
  std::string file = shared.path + "/copied.txt";
  { std::ofstream(file) << "copied while stopped\n"; }
  auto cp = node(1).vessel({"cp", file, "db:/copied.txt"});
  ASSERT_EQ(cp.status, 0) << cp.err << logs();
  ASSERT_TRUE(eventually([&] { return count_of(node(1).log(), exported) > exports; }, 400)) << logs();
  auto listed = test::run({"sh", "-c", "tar -xOf " + dir + "/db.g1.tar rootfs-diff.tar | tar -t"});
  EXPECT_NE(listed.out.find("copied.txt"), std::string::npos) << listed.out << listed.err;
  skips = count_of(node(1).log(), skipped);
  ASSERT_TRUE(eventually([&] { return count_of(node(1).log(), skipped) > skips; }, 400)) << "at rest again: " << logs();

  // Running again: exported every period.
  exports = count_of(node(1).log(), exported);
  ASSERT_EQ(node(1).vessel({"start", "db"}).status, 0) << logs();
  EXPECT_TRUE(eventually([&] { return count_of(node(1).log(), exported) >= exports + 3; }, 400)) << logs();
  EXPECT_EQ(node(1).vessel({"rm", "-f", "db"}).status, 0);
  EXPECT_TRUE(eventually([&] { return shells_of(tok).empty(); }, 200));
}

}  // namespace
}  // namespace vessel::test
