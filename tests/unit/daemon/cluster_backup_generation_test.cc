// The names of --cluster-storage backup archives in the directory the nodes share
// (docs/cluster.md#storage): DIR/NAME.gGENERATION.tar. The reader decides which archive a node
// restores and which ones a new owner removes, so only the names take() writes count, each
// instance's own, and anything else in the directory is no backup at all.
#include <gtest/gtest.h>

#include <string>

#include "daemon/cluster_backup_name.h"

namespace vessel::daemon {
namespace {

TEST(ClusterBackupGeneration, TheNamesTakeWrites) {
  EXPECT_EQ(cluster_backup_generation("db.g1.tar", "db"), 1);
  EXPECT_EQ(cluster_backup_generation("db.g42.tar", "db"), 42);
  EXPECT_EQ(cluster_backup_generation("web-1.g7.tar", "web-1"), 7);
  EXPECT_EQ(cluster_backup_generation("db.g9223372036854775807.tar", "db"), INT64_MAX);
  // An instance whose name looks like another's backup: each gets its own.
  EXPECT_EQ(cluster_backup_generation("db.g1.g2.tar", "db.g1"), 2);
  EXPECT_EQ(cluster_backup_generation("db.g1.g2.tar", "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("db.g1.tar", "db.g1"), std::nullopt);
}

TEST(ClusterBackupGeneration, MalformedNamesAreNoBackup) {
  for (const char* file : {"db.tar", "db.g.tar", "db.g0.tar", "db.g-1.tar", "db.g+1.tar", "db.g01.tar", "db.g00.tar",
                           "db.gx.tar", "db.g1x.tar", "db.g 1.tar", "db.g1 .tar", "db.G1.tar", "db.g1.TAR", "db.g1",
                           "db.g1.tar.zst", "db.g1.tar.partial", ".db.g1.tar.partial", "db.g0x1.tar", "db.g1e3.tar",
                           "db.g1.5.tar", "dbg1.tar", "db..g1.tar", "db.g1.tar ", "", ".tar", ".g1.tar"})
    EXPECT_EQ(cluster_backup_generation(file, "db"), std::nullopt) << file;
}

// What a node killed mid-write leaves: the next generation's owner removes it.
TEST(ClusterBackupGeneration, HalfWrittenBackupsAreKnownByTheirGeneration) {
  EXPECT_EQ(cluster_partial_backup_generation(".db.g3.tar.partial", "db"), 3);
  EXPECT_EQ(cluster_partial_backup_generation(".db.g1.g2.tar.partial", "db.g1"), 2);
  for (const char* file : {"db.g3.tar", "db.g3.tar.partial", ".db.g3.tar", ".db.g03.tar.partial", ".db2.g3.tar.partial",
                           "..db.g3.tar.partial", ".db.g3.tar.partial.partial", ".partial", "", "."})
    EXPECT_EQ(cluster_partial_backup_generation(file, "db"), std::nullopt) << file;
}

TEST(ClusterBackupGeneration, OtherInstancesAndHostileNamesAreNoBackup) {
  EXPECT_EQ(cluster_backup_generation("db2.g1.tar", "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("db.g1.tar", "db2"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("xdb.g1.tar", "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("../db.g1.tar", "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("db.g1.tar/x.tar", "db"), std::nullopt);
  // No instance has an empty name: nothing is its backup.
  EXPECT_EQ(cluster_backup_generation(".g5.tar", ""), std::nullopt);
  // Past int64: not a generation (not a wrapped or clamped one).
  EXPECT_EQ(cluster_backup_generation("db.g9223372036854775808.tar", "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("db.g99999999999999999999999999999999.tar", "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("db.g" + std::string(4096, '9') + ".tar", "db"), std::nullopt);
  // Bytes a file name may hold.
  EXPECT_EQ(cluster_backup_generation(std::string_view("db.g1\0.tar", 10), "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation(std::string_view("db\0.g1.tar", 10), "db"), std::nullopt);
  EXPECT_EQ(cluster_backup_generation("db.g\xd9\xa1.tar", "db"), std::nullopt);  // ARABIC-INDIC DIGIT ONE
  EXPECT_EQ(cluster_backup_generation("db.g1\n.tar", "db"), std::nullopt);
}

}  // namespace
}  // namespace vessel::daemon
