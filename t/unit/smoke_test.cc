#include <gtest/gtest.h>
#include "model.h"
TEST(Model, Defaults) { sticky::Member m; EXPECT_EQ(8009, m.port); }
