// BOOST_REQUIRE for Result/Status that prints the error message on failure.
#pragma once

#include <boost/test/unit_test.hpp>

#define SB_REQUIRE_OK(result) \
  BOOST_REQUIRE_MESSAGE((result).ok(), "error: " << ((result).ok() ? std::string() : (result).error().message))
#define SB_CHECK_OK(result) \
  BOOST_CHECK_MESSAGE((result).ok(), "error: " << ((result).ok() ? std::string() : (result).error().message))
