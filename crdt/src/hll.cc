#include "crdt/hll.h"

#include <algorithm>
#include <cmath>

namespace crdt {

uint64_t MurmurHash64A(std::string_view data, uint64_t seed) {
  constexpr uint64_t kM = 0xc6a4a7935bd1e995ull;
  constexpr int kR = 47;
  const size_t len = data.size();
  uint64_t h = seed ^ (static_cast<uint64_t>(len) * kM);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t blocks = len / 8;
  for (size_t b = 0; b < blocks; ++b, p += 8) {
    uint64_t k = 0;
    for (int i = 7; i >= 0; --i) k = (k << 8) | p[i];
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h ^= k;
    h *= kM;
  }
  const size_t tail = len & 7;
  if (tail > 0) {
    for (size_t i = tail; i-- > 0;) h ^= static_cast<uint64_t>(p[i]) << (8 * i);
    h *= kM;
  }
  h ^= h >> kR;
  h *= kM;
  h ^= h >> kR;
  return h;
}

namespace {

constexpr uint64_t kSeed = 0xadc83b19ull;

double Sigma(double x) {
  if (x == 1.) return INFINITY;
  double y = 1, z = x, previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (previous != z);
  return z;
}

double Tau(double x) {
  if (x == 0. || x == 1.) return 0.;
  double y = 1.0, z = 1 - x, previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= std::pow(1 - x, 2) * y;
  } while (previous != z);
  return z / 3;
}

}  // namespace

bool HllStore::Raise(size_t index, uint8_t value, HllStore* delta) {
  if (regs_.empty()) regs_.assign(kRegisters, 0);
  if (regs_[index] >= value) return false;
  regs_[index] = value;
  if (delta) {
    if (delta->regs_.empty()) delta->regs_.assign(kRegisters, 0);
    delta->regs_[index] = std::max(delta->regs_[index], value);
  }
  return true;
}

bool HllStore::Add(const std::vector<std::string_view>& elements, HllStore* delta) {
  bool changed = !exists_;
  exists_ = true;
  if (delta) {
    delta->epoch_ = std::max(delta->epoch_, epoch_);
    delta->exists_ = true;
  }
  for (std::string_view e : elements) {
    uint64_t hash = MurmurHash64A(e, kSeed);
    const size_t index = hash & (kRegisters - 1);
    hash >>= kPrecision;
    hash |= uint64_t{1} << (64 - kPrecision);  // so the count stops at 51
    uint8_t count = 1;
    while ((hash & 1) == 0) {
      ++count;
      hash >>= 1;
    }
    changed |= Raise(index, count, delta);
  }
  return changed;
}

bool HllStore::MergeFrom(const HllStore& src, HllStore* delta) {
  bool changed = !exists_;
  exists_ = true;
  if (delta) {
    delta->epoch_ = std::max(delta->epoch_, epoch_);
    delta->exists_ = true;
  }
  for (size_t i = 0; i < src.regs_.size(); ++i) {
    if (src.regs_[i] != 0) changed |= Raise(i, src.regs_[i], delta);
  }
  return changed;
}

bool HllStore::Clear(HllStore* delta) {
  const bool was = exists_;
  ++epoch_;
  exists_ = false;
  regs_.clear();
  regs_.shrink_to_fit();
  if (delta) {
    delta->epoch_ = epoch_;
    delta->exists_ = false;
    delta->regs_.clear();
  }
  return was;
}

void HllStore::Join(const HllStore& other) {
  if (this == &other || other.epoch_ < epoch_) return;
  if (other.epoch_ > epoch_) {
    *this = other;
    return;
  }
  exists_ |= other.exists_;
  if (other.regs_.empty()) return;
  if (regs_.empty()) {
    regs_ = other.regs_;
    return;
  }
  for (size_t i = 0; i < kRegisters; ++i) regs_[i] = std::max(regs_[i], other.regs_[i]);
}

uint64_t HllStore::Estimate(const std::vector<uint8_t>& regs) {
  int histogram[64] = {0};
  if (regs.empty()) {
    histogram[0] = static_cast<int>(kRegisters);
  } else {
    for (uint8_t r : regs) ++histogram[r];
  }
  const double m = static_cast<double>(kRegisters);
  double z = m * Tau((m - histogram[kMaxRegister]) / m);
  for (int j = kMaxRegister - 1; j >= 1; --j) {
    z += histogram[j];
    z *= 0.5;
  }
  z += m * Sigma(histogram[0] / m);
  constexpr double kAlphaInf = 0.721347520444481703680;  // 0.5 / ln(2)
  return static_cast<uint64_t>(std::llroundl(kAlphaInf * m * m / z));
}

uint64_t HllStore::Count() const { return Estimate(regs_); }

void HllStore::Encode(Encoder* enc) const {
  enc->PutVarint(epoch_);
  enc->PutByte(exists_ ? 1 : 0);
  size_t n = 0;
  for (uint8_t r : regs_) n += r != 0;
  enc->PutVarint(n);
  size_t last = 0;
  for (size_t i = 0; i < regs_.size(); ++i) {
    if (regs_[i] == 0) continue;
    enc->PutVarint(i - last);
    enc->PutByte(regs_[i]);
    last = i;
  }
}

bool HllStore::Decode(Decoder* dec) {
  regs_.clear();
  uint8_t exists = 0;
  uint64_t n = 0;
  if (!dec->GetVarint(&epoch_) || !dec->GetByte(&exists) || !dec->GetCount(&n, 2)) return false;
  if (exists > 1) return dec->Fail("bad HyperLogLog flag");
  exists_ = exists == 1;
  if (n > kRegisters) return dec->Fail("too many HyperLogLog registers");
  if (n > 0 && !exists_) return dec->Fail("HyperLogLog registers on an absent key");
  if (n > 0) regs_.assign(kRegisters, 0);
  uint64_t index = 0;
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t gap = 0;
    uint8_t value = 0;
    if (!dec->GetVarint(&gap) || !dec->GetByte(&value)) return false;
    if ((k > 0 && gap == 0) || gap >= kRegisters || index + gap >= kRegisters) {
      return dec->Fail("bad HyperLogLog register index");
    }
    index += gap;
    if (value == 0 || value > kMaxRegister) return dec->Fail("bad HyperLogLog register value");
    regs_[index] = value;
  }
  return true;
}

std::string HllStore::RedisDense() const {
  constexpr size_t kHeader = 16;
  std::string out(kHeader + (kRegisters * 6 + 7) / 8, '\0');
  out.replace(0, 4, "HYLL");
  out[15] = static_cast<char>(0x80);  // cached cardinality invalid: PFCOUNT recomputes
  auto* p = reinterpret_cast<unsigned char*>(out.data() + kHeader);
  const size_t bytes = out.size() - kHeader;
  for (size_t i = 0; i < regs_.size(); ++i) {
    const unsigned v = regs_[i];
    const size_t byte = i * 6 / 8;
    const unsigned bit = (i * 6) & 7;
    p[byte] = static_cast<unsigned char>(p[byte] | ((v << bit) & 0xFF));
    if (byte + 1 < bytes) p[byte + 1] = static_cast<unsigned char>(p[byte + 1] | (v >> (8 - bit)));
  }
  return out;
}

bool operator==(const HllStore& a, const HllStore& b) {
  if (a.epoch_ != b.epoch_ || a.exists_ != b.exists_) return false;
  if (a.regs_.empty() || b.regs_.empty()) {
    const auto& x = a.regs_.empty() ? b.regs_ : a.regs_;
    return std::all_of(x.begin(), x.end(), [](uint8_t r) { return r == 0; });
  }
  return a.regs_ == b.regs_;
}

}  // namespace crdt
