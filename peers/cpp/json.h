// A small JSON reader/writer for the peer protocol's request and response objects.
//
// Requests are flat objects: strings, integers (up to u64), null, booleans, one
// nested object of string -> string (metadata). Responses add lists of
// [int, int]. The parser accepts any JSON value (it never crashes on input);
// numbers keep their text and are converted on demand, so a u64 is exact.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Value() = default;
  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value U64(uint64_t v);
  static Value I64(int64_t v);
  static Value Double(double v);
  static Value Str(std::string s);
  static Value Arr(std::vector<Value> items = {});
  static Value Obj();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_string() const { return type_ == Type::String; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_number() const { return type_ == Type::Number; }

  // Number access: nullopt when the value is not an integer in range.
  std::optional<uint64_t> as_u64() const;
  std::optional<int64_t> as_i64() const;
  const std::string& number_text() const { return text_; }
  bool as_bool() const { return bool_; }
  const std::string& str() const { return text_; }
  const std::vector<Value>& items() const { return items_; }
  // Object members in insertion order.
  const std::vector<std::pair<std::string, Value>>& members() const { return members_; }

  const Value* get(const std::string& key) const;
  Value& set(const std::string& key, Value v);  // replaces an existing key
  void push(Value v) { items_.push_back(std::move(v)); }

  std::string dump() const;

 private:
  friend class Parser;
  Type type_ = Type::Null;
  bool bool_ = false;
  std::string text_;  // string contents, or the number's literal text
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

// Parses one JSON document; throws std::runtime_error with a position on error.
Value Parse(const std::string& text);

// Quotes a string for JSON, replacing invalid UTF-8 with U+FFFD.
std::string Quote(const std::string& s);

}  // namespace json
