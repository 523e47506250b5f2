#include "cluster_sim/client.h"

#include <string>

namespace cluster_sim {

std::string Reply::ToString() const {
  switch (type) {
    case Type::kStatus:
    case Type::kBulk:
    case Type::kDouble:
      return str;
    case Type::kError:
      return "(error) " + str;
    case Type::kInteger:
    case Type::kBool:
      return std::to_string(integer);
    case Type::kNil:
    case Type::kNilArray:
      return "(nil)";
    case Type::kArray:
    case Type::kMap:
    case Type::kSet: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements[i].ToString();
      }
      return out + "]";
    }
  }
  return "(nil)";
}

}  // namespace cluster_sim
