// NameIndex (name_index.h) against the plain definition: Find gives the first name equal to
// the one asked, ignoring ASCII case (IEquals), or -1.
#include "cluster_sim/name_index.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_sim/strings.h"

namespace cluster_sim {
namespace {

int FirstEqual(const std::vector<std::string_view>& names, std::string_view name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (IEquals(names[i], name)) return static_cast<int>(i);
  }
  return -1;
}

// Names on both sides of each shape of key (up to 3 bytes, 4 to 7, 8 to 16, longer), with
// the bytes a lowering by bits gets wrong ('_' is 0x7F less 0x20; bytes past 0x7F are not
// letters, in a short name and in one of 4 to 7 bytes), names that differ only in the middle
// of a long name, names with '\0' bytes (a key packs zero bytes as its empty high bytes do),
// and a repeated one.
const std::vector<std::string> kNames = {"",
                                         "a",
                                         "_",
                                         "ab",
                                         "a_",
                                         "abc",
                                         "get",
                                         "set",
                                         "incrbybyz",
                                         "sadd",
                                         "srem",
                                         "x.y",
                                         "bc.get",
                                         "eval_ro",
                                         "incrby",
                                         "set",
                                         "x\xe1",
                                         "\xe1",
                                         "[@`{",
                                         "0123456789",
                                         "bitfield_ro",
                                         "georadius_ro",
                                         "zrangebyscore",
                                         "client|list",
                                         "sixteen_bytes_16",
                                         "seventeen_bytes17",
                                         "georadiusbymember_ro",
                                         "georadiusbymember_ro_a",
                                         "georadiusbxmember_ro_a",
                                         "multi",
                                         "getrange",
                                         "zremrangebyrank",
                                         std::string("a\0b", 3),
                                         std::string("\0", 1),
                                         std::string("get\0", 4),
                                         "s\xe9t\xe0x"};

TEST(NameIndex, FindsTheFirstEqualNameInAnyCase) {
  std::vector<std::string_view> names(kNames.begin(), kNames.end());
  const NameIndex index(names);
  std::vector<std::string> asked;
  for (const std::string& n : kNames) {
    asked.push_back(n);
    std::string upper = n, mixed = n;
    for (size_t i = 0; i < n.size(); ++i) {
      if (n[i] >= 'a' && n[i] <= 'z') {
        upper[i] = static_cast<char>(n[i] - 'a' + 'A');
        if (i % 2 == 0) mixed[i] = upper[i];
      }
    }
    asked.push_back(upper);
    asked.push_back(mixed);
    // Every one-byte change (a letter's neighbours in ASCII, the case bit on a non-letter,
    // the high bit), one byte more or less at either end.
    for (size_t i = 0; i < n.size(); ++i) {
      for (int delta : {1, -1, 0x20, -0x20, 0x80}) {
        std::string changed = n;
        changed[i] = static_cast<char>(static_cast<uint8_t>(n[i]) + delta);
        asked.push_back(changed);
      }
    }
    asked.push_back(n + "a");
    asked.push_back("a" + n);
    if (!n.empty()) {
      asked.push_back(n.substr(1));
      asked.push_back(n.substr(0, n.size() - 1));
    }
  }
  int found = 0;
  for (const std::string& name : asked) {
    const int want = FirstEqual(names, name);
    EXPECT_EQ(index.Find(name), want) << "'" << name << "'";
    found += want >= 0 ? 1 : 0;
  }
  EXPECT_GT(found, 3 * static_cast<int>(kNames.size()) - 1);  // the names in three cases
  EXPECT_EQ(index.Find("SET"), 7);                            // the first of two "set"
  EXPECT_EQ(index.Find("x\xc1"), -1);                         // 0xC1 is not an upper-case 0xE1
  EXPECT_EQ(index.Find("\x7f"), -1);                          // nor is '_' a lower-case DEL
  // A '\0' at the end is a byte of the name, not padding.
  EXPECT_EQ(index.Find("get"), 6);
  EXPECT_EQ(index.Find(std::string("geT\0", 4)), 34);
  EXPECT_EQ(index.Find(std::string("\0", 1)), 33);
  EXPECT_EQ(index.Find(""), 0);
  EXPECT_EQ(index.Find("S\xe9T\xe0X"), 35);
  EXPECT_EQ(index.Find("s\xc9t\xe0x"), -1);  // 0xC9 is not an upper-case 0xE9
}

TEST(NameIndex, AnEmptyIndexFindsNothing) {
  const NameIndex index({});
  EXPECT_EQ(index.Find("x"), -1);
  EXPECT_EQ(index.Find(""), -1);
  EXPECT_EQ(index.Find("sixteen_bytes_16_and_more"), -1);
}

}  // namespace
}  // namespace cluster_sim
