#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/bootstrap_list.h"
#include "support/require_ok.h"

using namespace seedbank::protocol;

BOOST_AUTO_TEST_SUITE(bootstrap_list_test)

BOOST_AUTO_TEST_CASE(addresses_keys_and_comments) {
  auto key = SecretKey::generate().public_key();
  std::string text =
      "# public nodes\n\n203.0.113.7:7400\n  [2001:db8::5]:7401\t" + key.to_text() + "   # with its key\r\n127.0.0.1:1";
  auto list = parse_bootstrap_list(text, "list.txt");
  SB_REQUIRE_OK(list);
  BOOST_REQUIRE_EQUAL(list->size(), 3u);
  BOOST_TEST((*list)[0].address == "203.0.113.7:7400");
  BOOST_TEST(!(*list)[0].key.has_value());
  BOOST_TEST((*list)[1].address == "[2001:db8::5]:7401");
  BOOST_REQUIRE((*list)[1].key.has_value());
  BOOST_TEST(((*list)[1].key->bytes == key.bytes));
  BOOST_TEST((*list)[2].address == "127.0.0.1:1");
  SB_REQUIRE_OK(parse_bootstrap_list("", "empty"));
}

BOOST_AUTO_TEST_CASE(bad_lines_name_the_file_and_line) {
  struct Case {
    std::string text, expect;
  };
  for (const auto& c :
       {Case{"203.0.113.7:7400\nseed.example.org:7400\n", "list.txt:2: 'seed.example.org:7400'"},
        Case{"203.0.113.7:0\n", "list.txt:1:"}, Case{"203.0.113.7:70000\n", "list.txt:1:"},
        Case{"203.0.113.7\n", "not HOST:PORT"}, Case{"2001:db8::5:7400\n", "not HOST:PORT"},
        Case{"203.0.113.7:7400 sbpk1nonsense\n", "not a node key"},
        Case{"203.0.113.7:7400 " + SecretKey::generate().public_key().to_text() + " extra\n", "extra words"}}) {
    auto r = parse_bootstrap_list(c.text, "list.txt");
    BOOST_TEST_CONTEXT(c.text) {
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().message.find(c.expect) != std::string::npos, r.error().message);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
