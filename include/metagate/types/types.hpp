// Umbrella header of the types module: type catalog, value codec, date/time helpers.
#pragma once

#include "metagate/types/codec.hpp"
#include "metagate/types/datetime.hpp"
#include "metagate/types/type_catalog.hpp"
#include "metagate/types/value.hpp"
