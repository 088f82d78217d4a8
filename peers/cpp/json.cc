#include "json.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace json {

Value Value::Bool(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}

Value Value::U64(uint64_t n) {
  Value v;
  v.type_ = Type::Number;
  v.text_ = std::to_string(n);
  return v;
}

Value Value::I64(int64_t n) {
  Value v;
  v.type_ = Type::Number;
  v.text_ = std::to_string(n);
  return v;
}

Value Value::Double(double d) {
  Value v;
  if (!std::isfinite(d)) return v;  // JSON has no NaN/inf: null
  v.type_ = Type::Number;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  v.text_ = buf;
  return v;
}

Value Value::Str(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.text_ = std::move(s);
  return v;
}

Value Value::Arr(std::vector<Value> items) {
  Value v;
  v.type_ = Type::Array;
  v.items_ = std::move(items);
  return v;
}

Value Value::Obj() {
  Value v;
  v.type_ = Type::Object;
  return v;
}

static bool IsPlainInteger(const std::string& t, bool* negative, size_t* digits_at) {
  size_t i = 0;
  *negative = false;
  if (i < t.size() && t[i] == '-') {
    *negative = true;
    ++i;
  }
  if (i >= t.size()) return false;
  *digits_at = i;
  for (; i < t.size(); ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
  }
  return true;
}

std::optional<uint64_t> Value::as_u64() const {
  if (type_ != Type::Number) return std::nullopt;
  bool negative;
  size_t at;
  if (!IsPlainInteger(text_, &negative, &at)) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = at; i < text_.size(); ++i) {
    uint64_t d = static_cast<uint64_t>(text_[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (negative && v != 0) return std::nullopt;
  return v;
}

std::optional<int64_t> Value::as_i64() const {
  if (type_ != Type::Number) return std::nullopt;
  bool negative;
  size_t at;
  if (!IsPlainInteger(text_, &negative, &at)) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = at; i < text_.size(); ++i) {
    uint64_t d = static_cast<uint64_t>(text_[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (!negative) {
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (v > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
  return static_cast<int64_t>(0 - v);
}

const Value* Value::get(const std::string& key) const {
  for (const auto& m : members_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Value& Value::set(const std::string& key, Value v) {
  type_ = Type::Object;
  for (auto& m : members_) {
    if (m.first == key) {
      m.second = std::move(v);
      return m.second;
    }
  }
  members_.emplace_back(key, std::move(v));
  return members_.back().second;
}

// --- writing ---------------------------------------------------------------

static void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
static size_t Utf8Length(const std::string& s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

std::string Quote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
      continue;
    }
    size_t n = Utf8Length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  out.push_back('"');
  return out;
}

static void Dump(const Value& v, std::string* out) {
  switch (v.type()) {
    case Value::Type::Null: *out += "null"; break;
    case Value::Type::Bool: *out += v.as_bool() ? "true" : "false"; break;
    case Value::Type::Number: *out += v.number_text(); break;
    case Value::Type::String: *out += Quote(v.str()); break;
    case Value::Type::Array: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v.items()) {
        if (!first) *out += ", ";
        first = false;
        Dump(item, out);
      }
      out->push_back(']');
      break;
    }
    case Value::Type::Object: {
      out->push_back('{');
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) *out += ", ";
        first = false;
        *out += Quote(m.first);
        *out += ": ";
        Dump(m.second, out);
      }
      out->push_back('}');
      break;
    }
  }
}

std::string Value::dump() const {
  std::string out;
  Dump(*this, &out);
  return out;
}

// --- parsing ---------------------------------------------------------------

class Parser {
 public:
  explicit Parser(const std::string& text) : t_(text) {}

  Value Document() {
    Value v = ParseValue(0);
    SkipSpace();
    if (pos_ != t_.size()) Fail("trailing characters after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;
  const std::string& t_;
  size_t pos_ = 0;

  [[noreturn]] void Fail(const std::string& what) const {
    throw std::runtime_error("invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }

  void SkipSpace() {
    while (pos_ < t_.size() &&
           (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (t_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  Value ParseValue(int depth) {
    if (depth > kMaxDepth) Fail("nesting too deep");
    SkipSpace();
    if (pos_ >= t_.size()) Fail("unexpected end of input");
    char c = t_[pos_];
    if (c == '{') return ParseObject(depth);
    if (c == '[') return ParseArray(depth);
    if (c == '"') return Value::Str(ParseString());
    if (Consume("null")) return Value::Null();
    if (Consume("true")) return Value::Bool(true);
    if (Consume("false")) return Value::Bool(false);
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
    Fail(std::string("unexpected character '") + c + "'");
  }

  Value ParseNumber() {
    size_t start = pos_;
    auto digits = [&]() {
      size_t s = pos_;
      while (pos_ < t_.size() && t_[pos_] >= '0' && t_[pos_] <= '9') ++pos_;
      return pos_ - s;
    };
    if (t_[pos_] == '-') ++pos_;
    if (pos_ < t_.size() && t_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      Fail("bad number");
    }
    if (pos_ < t_.size() && t_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) Fail("bad number fraction");
    }
    if (pos_ < t_.size() && (t_[pos_] == 'e' || t_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < t_.size() && (t_[pos_] == '+' || t_[pos_] == '-')) ++pos_;
      if (digits() == 0) Fail("bad number exponent");
    }
    Value v;
    v.type_ = Value::Type::Number;
    v.text_ = t_.substr(start, pos_ - start);
    return v;
  }

  uint32_t Hex4() {
    if (pos_ + 4 > t_.size()) Fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = t_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else Fail("bad \\u escape");
    }
    return v;
  }

  std::string ParseString() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= t_.size()) Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(t_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) Fail("control character in string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= t_.size()) Fail("unterminated escape");
      char e = t_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = Hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF && t_.compare(pos_, 2, "\\u") == 0) {
            size_t save = pos_;
            pos_ += 2;
            uint32_t low = Hex4();
            if (low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = save;
              cp = 0xFFFD;
            }
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;  // lone surrogate
          }
          AppendUtf8(&out, cp);
          break;
        }
        default: Fail(std::string("bad escape \\") + e);
      }
    }
  }

  Value ParseArray(int depth) {
    ++pos_;
    Value v = Value::Arr();
    SkipSpace();
    if (pos_ < t_.size() && t_[pos_] == ']') {
      ++pos_;
      return v;
    }
    while (true) {
      v.items_.push_back(ParseValue(depth + 1));
      SkipSpace();
      if (pos_ >= t_.size()) Fail("unterminated array");
      if (t_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (t_[pos_] == ']') {
        ++pos_;
        return v;
      }
      Fail("expected ',' or ']'");
    }
  }

  Value ParseObject(int depth) {
    ++pos_;
    Value v = Value::Obj();
    SkipSpace();
    if (pos_ < t_.size() && t_[pos_] == '}') {
      ++pos_;
      return v;
    }
    while (true) {
      SkipSpace();
      if (pos_ >= t_.size() || t_[pos_] != '"') Fail("expected a string key");
      std::string key = ParseString();
      SkipSpace();
      if (pos_ >= t_.size() || t_[pos_] != ':') Fail("expected ':'");
      ++pos_;
      v.set(key, ParseValue(depth + 1));  // a repeated key keeps the last value, like Python
      SkipSpace();
      if (pos_ >= t_.size()) Fail("unterminated object");
      if (t_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (t_[pos_] == '}') {
        ++pos_;
        return v;
      }
      Fail("expected ',' or '}'");
    }
  }
};

Value Parse(const std::string& text) { return Parser(text).Document(); }

}  // namespace json
