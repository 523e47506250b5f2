// HOST:PORT text: an IPv6 host is written in brackets and read from them
// (cluster_sim/host_port.h), and ParseHostPort, which --listen and --peer use, checks the
// address and the port on top.
#include "cluster_sim/host_port.h"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "server/server.h"

namespace server {
namespace {

TEST(HostPort, IPv6HostsAreBracketed) {
  EXPECT_EQ(cluster_sim::JoinHostPort("127.0.0.1", 6379), "127.0.0.1:6379");
  EXPECT_EQ(cluster_sim::JoinHostPort("::1", 39249), "[::1]:39249");
  EXPECT_EQ(cluster_sim::JoinHostPort("fe80::1%eth0", 1), "[fe80::1%eth0]:1");
}

TEST(HostPort, SplitReadsBracketsAndRejectsBareIPv6WithPort) {
  std::string host, port;
  ASSERT_TRUE(cluster_sim::SplitHostPort("[::1]:6380", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, "6380");
  ASSERT_TRUE(cluster_sim::SplitHostPort("[::1]", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, "");
  ASSERT_TRUE(cluster_sim::SplitHostPort("10.0.0.2:7", &host, &port).ok());
  EXPECT_EQ(host, "10.0.0.2");
  EXPECT_EQ(port, "7");
  ASSERT_TRUE(cluster_sim::SplitHostPort("h", &host, &port).ok());
  EXPECT_EQ(host, "h");
  EXPECT_EQ(port, "");
  struct Bad {
    const char* text;
    const char* why;
  };
  for (const Bad& b :
       {Bad{"::1:6379", "'::1:6379': an IPv6 host goes in brackets"},
        Bad{"[::1", "'[::1': no ']' after '['"},
        Bad{"[::1]6379", "'[::1]6379': expected ':PORT' after ']'"},
        Bad{"[::1]:", "'[::1]:': no port after ':'"}, Bad{"h:", "'h:': no port after ':'"}}) {
    auto st = cluster_sim::SplitHostPort(b.text, &host, &port);
    EXPECT_FALSE(st.ok()) << b.text;
    EXPECT_EQ(st.message().rfind(b.why, 0), 0u) << st.message();
  }
}

TEST(HostPort, ParseHostPortTakesBracketedIPv6) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseHostPort("[::1]:39249", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 39249);
  ASSERT_TRUE(ParseHostPort("localhost:0", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  for (const char* bad : {"::1:39249", "::1", "[::1]", "[nohost]:1", "[::1]:70000", ":1"}) {
    auto st = ParseHostPort(bad, &host, &port);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find(bad), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace server
