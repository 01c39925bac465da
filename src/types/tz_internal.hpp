// Private: time zone name lookup shared by timezone.cpp and datetime.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace metagate::types::detail {
// Offset (seconds east) of a lower-case zone abbreviation or UTC-equivalent zone name.
std::optional<int32_t> zone_abbrev_offset(std::string_view lower_name);
}  // namespace metagate::types::detail
