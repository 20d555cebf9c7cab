// Images distributed between nodes (docs/cluster.md#images): an image imported on node-1 only; a
// clustered instance of it pinned to node-2 runs there, node-2 having fetched the image from node-1
// (the same image ID); an image no node has leaves the instance unplaced-to-run with the reason logged.
#include <gtest/gtest.h>

#include "cluster_nodes.h"

namespace vessel::test {
namespace {

using cluster_nodes::shells_of;

class ClusterImages : public cluster_nodes::ClusterNodes {};

// The image's ID (its config's digest, naming its layers' contents): the same on every node.
std::string id_of(const Daemon& d, const std::string& image) {
  for (const auto& i : d.vessel_json({"image", "ls", "--json"}))
    if (i.value("name", "") == image) return i.value("info", json::Json::object()).value("config", "");
  return "";
}

TEST_F(ClusterImages, ANodeFetchesAnImageItLacksFromAPeer) {
  start_nodes(3);
  std::string archive = make_busybox_image_archive(images_.path + "/img", R"({"Cmd":["/bin/sh"]})");
  ASSERT_EQ(node(1).vessel({"image", "import", "-q", archive, "--name", "shared"}).status, 0) << node(1).log();
  std::string id = id_of(node(1), "shared");
  ASSERT_TRUE(id.starts_with("sha256:"));
  ASSERT_EQ(id_of(node(2), "shared"), "");

  std::string tok = token("fetched");
  auto run = node(1).vessel({"run", "--cluster-wide", "--name", "fetched", "--constraint", "node.hostname==node-2",
                             "shared", "--", "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done", tok});
  ASSERT_EQ(run.status, 0) << run.err << logs();
  EXPECT_EQ(wait_running("fetched", tok), "node-2");
  EXPECT_EQ(id_of(node(2), "shared"), id) << "the image node-2 fetched is node-1's";
  auto digest = [](const Daemon& d) { return d.vessel_json({"image", "inspect", "shared"}).value("digest", ""); };
  EXPECT_EQ(digest(node(2)), digest(node(1))) << "recorded under node-1's manifest digest (backups name it so)";
  EXPECT_EQ(id_of(node(3), "shared"), "") << "only the node that runs it fetches it";
  std::string log2 = node(2).log();
  size_t fetched = log2.find("image shared fetched from node node-1");
  ASSERT_NE(fetched, std::string::npos) << log2;
  std::printf("%s\n", log2.substr(fetched, log2.find('\n', fetched) - fetched).c_str());  // its time, for the docs

  // An image no node has: the record stays, the node that should run it says why.
  ASSERT_EQ(node(1).vessel({"run", "--cluster-wide", "--name", "orphan", "--constraint", "node.hostname==node-3",
                            "nowhere", "--", "/bin/true"}).status, 0);
  EXPECT_TRUE(eventually([&] { return node(3).log().find("no ready node could give it") != std::string::npos; }, 200))
      << node(3).log();
  EXPECT_EQ(id_of(node(3), "nowhere"), "");
  EXPECT_EQ(node(1).vessel({"rm", "-f", "fetched"}).status, 0);
  EXPECT_EQ(node(1).vessel({"rm", "-f", "orphan"}).status, 0);
  EXPECT_TRUE(eventually([&] { return shells_of(tok).empty(); }, 200));
}

}  // namespace
}  // namespace vessel::test
