// The one Boost.Test main for each unit-test binary.
#define BOOST_TEST_MODULE seedbank
#include <boost/test/unit_test.hpp>
