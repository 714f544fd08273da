// The gallery's uploads (node/src/http/uploads.h): chunks in order from
// where the node is, taken up again after a restart, refused past the end
// or the disk, held while a publish uses them, and no way out of their
// folder.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <random>

#include "../node/src/http/uploads.h"

namespace fs = std::filesystem;
using seedbank::node::Uploads;
using seedbank::protocol::ErrorCode;

namespace {

struct Area {
  fs::path dir = fs::temp_directory_path() / ("seedbank-uploads-" + std::to_string(std::random_device{}()));
  Area() { fs::create_directories(dir); }
  ~Area() { fs::remove_all(dir); }
  std::string contents(const fs::path& file) const {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(uploads_test, Area)

BOOST_AUTO_TEST_CASE(chunks_arrive_in_order_and_an_upload_survives_a_restart) {
  const std::string bytes = "0123456789abcdefghij";
  std::string id;
  {
    Uploads area(dir);
    auto made = area.create("model.safetensors", bytes.size(), 1234, 0, 0);
    BOOST_REQUIRE(static_cast<bool>(made));
    id = made->id;
    BOOST_TEST(made->received == 0u);
    BOOST_TEST(area.write(id, 0, bytes.substr(0, 8))->received == 8u);
    // A gap is refused and says where to go on; nothing is written.
    auto gap = area.write(id, 12, bytes.substr(12, 4));
    BOOST_REQUIRE(!gap);
    BOOST_TEST((gap.error().code == ErrorCode::conflict));
    BOOST_TEST(gap.error().message.find("send from 8") != std::string::npos, gap.error().message);
    // A chunk sent again (its answer lost) is written again.
    BOOST_TEST(area.write(id, 4, bytes.substr(4, 8))->received == 12u);
  }
  // The node restarted: the upload is where it was.
  Uploads area(dir);
  auto now = area.get(id);
  BOOST_REQUIRE(now);
  BOOST_TEST(now->received == 12u);
  BOOST_TEST(now->modified == 1234u);
  BOOST_TEST(now->name == "model.safetensors");
  auto past = area.write(id, 12, bytes.substr(12) + "x");
  BOOST_REQUIRE(!past);
  BOOST_TEST(past.error().message.find("goes past its end") != std::string::npos, past.error().message);
  BOOST_TEST(area.write(id, 12, bytes.substr(12))->complete());
  BOOST_TEST(contents(now->path) == bytes);
  BOOST_TEST(now->path.parent_path().parent_path().parent_path() == dir);  // dir/ID/file/NAME
  BOOST_REQUIRE_EQUAL(area.list().size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_publish_holds_its_uploads_and_removes_them_when_done) {
  Uploads area(dir);
  auto a = area.create("a.safetensors", 3, 0, 0, 0);
  auto b = area.create("b.png", 2, 0, 0, 0);
  BOOST_REQUIRE(a && b);
  BOOST_REQUIRE(area.write(a->id, 0, "abc"));
  // Unfinished uploads cannot be published.
  auto early = area.claim({a->id, b->id});
  BOOST_REQUIRE(!early);
  BOOST_TEST(early.error().message.find("finish the upload") != std::string::npos, early.error().message);
  BOOST_TEST(!area.get(a->id)->publishing);  // a refused claim holds nothing
  BOOST_REQUIRE(area.write(b->id, 0, "xy"));
  auto claimed = area.claim({a->id, b->id});
  BOOST_REQUIRE(claimed);
  // While it is claimed nothing writes to, removes or claims it again.
  BOOST_TEST((area.write(a->id, 0, "z").error().code == ErrorCode::conflict));
  BOOST_TEST((area.remove(a->id).error().code == ErrorCode::conflict));
  BOOST_TEST(!static_cast<bool>(area.claim({a->id})));
  // A failed publish leaves them for another try; a done one removes them.
  area.release({a->id, b->id}, false);
  BOOST_TEST(area.list().size() == 2u);
  BOOST_REQUIRE(area.claim({a->id}));
  area.release({a->id}, true);
  BOOST_TEST(!static_cast<bool>(area.get(a->id)));
  BOOST_TEST(static_cast<bool>(area.remove(b->id)));
  BOOST_TEST(area.list().empty());
}

BOOST_AUTO_TEST_CASE(names_and_ids_cannot_leave_the_folder_and_sizes_are_checked) {
  Uploads area(dir);
  for (const char* name : {"../x.safetensors", "a/b.safetensors", "", ".."})
    BOOST_TEST(!static_cast<bool>(area.create(name, 10, 0, 0, 0)), name);
  BOOST_TEST(!static_cast<bool>(area.create("empty.safetensors", 0, 0, 0, 0)));
  // A size no disk has, refused before any sum could wrap around.
  auto absurd = area.create("absurd.safetensors", ~0ull, 0, 1000, 300);
  BOOST_REQUIRE(!absurd);
  BOOST_TEST(absurd.error().message.find("larger than any disk") != std::string::npos, absurd.error().message);
  // A file of the name the upload's own record has is still its own.
  auto named = area.create("upload.json", 4, 0, 0, 0);
  BOOST_REQUIRE(static_cast<bool>(named));
  BOOST_REQUIRE(static_cast<bool>(area.write(named->id, 0, "data")));
  BOOST_TEST(area.get(named->id)->complete());
  BOOST_TEST(contents(named->path) == "data");
  BOOST_REQUIRE(static_cast<bool>(area.remove(named->id)));
  for (const char* id : {"..", "../../etc", "0123456789abcdef0123456789ABCDEF", ""}) {
    BOOST_TEST((area.get(id).error().code == ErrorCode::not_found), id);
    BOOST_TEST(!static_cast<bool>(area.write(id, 0, "x")), id);
    BOOST_TEST(!static_cast<bool>(area.remove(id)), id);
  }
  // Past the disk, and past the store's quota with what is on its way.
  auto huge = area.create("huge.safetensors", 1ull << 49, 0, 0, 0);
  BOOST_REQUIRE(!huge);
  BOOST_TEST((huge.error().code == ErrorCode::limit));
  BOOST_TEST(huge.error().message.find("does not fit on this node's disk") != std::string::npos);
  BOOST_REQUIRE(area.create("first.safetensors", 600, 0, 1000, 300));
  auto over = area.create("second.safetensors", 200, 0, 1000, 300);
  BOOST_REQUIRE(!over);
  BOOST_TEST(over.error().message.find("quota") != std::string::npos, over.error().message);
  BOOST_TEST(static_cast<bool>(area.create("second.safetensors", 100, 0, 1000, 300)));
  BOOST_TEST(area.list().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
