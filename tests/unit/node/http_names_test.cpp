// Who may act as the node's user through the HTTP API: requests from this
// machine, naming this machine (node/src/http/server.h).
#include <boost/test/unit_test.hpp>

#include "../node/src/http/server.h"

using seedbank::node::is_loopback_ip;
using seedbank::node::names_this_machine;

BOOST_AUTO_TEST_SUITE(http_names_test)

BOOST_AUTO_TEST_CASE(only_loopback_addresses_are_this_machine) {
  BOOST_TEST(is_loopback_ip("127.0.0.1"));
  BOOST_TEST(is_loopback_ip("127.3.4.5"));
  BOOST_TEST(is_loopback_ip("::1"));
  BOOST_TEST(is_loopback_ip("::ffff:127.0.0.1"));  // IPv4 on a dual-stack socket
  BOOST_TEST(!is_loopback_ip("192.168.1.20"));
  BOOST_TEST(!is_loopback_ip("::ffff:10.0.0.1"));
  BOOST_TEST(!is_loopback_ip(""));
}

BOOST_AUTO_TEST_CASE(host_names_of_this_machine_and_not_rebound_ones) {
  for (const char* host :
       {"localhost", "localhost:7480", "127.0.0.1:7480", "127.0.0.1", "[::1]:7480", "app.localhost:80"})
    BOOST_TEST(names_this_machine(host), host);
  // A DNS name pointed at 127.0.0.1 (rebinding) is not a name of this machine.
  for (const char* host : {"evil.example:7480", "127.evil.example:7480", "127.0.0.1.evil.example", "", "[::2]:80"})
    BOOST_TEST(!names_this_machine(host), host);
}

BOOST_AUTO_TEST_SUITE_END()
