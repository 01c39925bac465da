// PgError: an error as PostgreSQL reports it (the fields of an ErrorResponse), and the
// SQLSTATE codes metagate uses. Every failure a client can see is one of these.
#pragma once

#include <string>
#include <string_view>

#include "metagate/util/expected.hpp"

namespace metagate {

namespace sqlstate {
// Class 08 — connection exception
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kTransactionResolutionUnknown = "08007";
// Class 0A — feature not supported
inline constexpr std::string_view kFeatureNotSupported = "0A000";
// Class 22 — data exception
inline constexpr std::string_view kDataException = "22000";
inline constexpr std::string_view kNumericValueOutOfRange = "22003";
inline constexpr std::string_view kInvalidDatetimeFormat = "22007";
inline constexpr std::string_view kDatetimeFieldOverflow = "22008";
inline constexpr std::string_view kDivisionByZero = "22012";
inline constexpr std::string_view kInvalidParameterValue = "22023";
inline constexpr std::string_view kInvalidTextRepresentation = "22P02";
inline constexpr std::string_view kInvalidBinaryRepresentation = "22P03";
inline constexpr std::string_view kStringDataRightTruncation = "22001";
inline constexpr std::string_view kCharacterNotInRepertoire = "22021";
inline constexpr std::string_view kUntranslatableCharacter = "22P05";
// Class 23 — integrity constraint violation
inline constexpr std::string_view kNotNullViolation = "23502";
inline constexpr std::string_view kForeignKeyViolation = "23503";
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kCheckViolation = "23514";
// Class 25 — invalid transaction state
inline constexpr std::string_view kActiveSqlTransaction = "25001";
inline constexpr std::string_view kNoActiveSqlTransaction = "25P01";
inline constexpr std::string_view kInFailedSqlTransaction = "25P02";
// Class 26/34 — invalid statement / cursor name
inline constexpr std::string_view kInvalidSqlStatementName = "26000";
inline constexpr std::string_view kInvalidCursorName = "34000";
// Class 28 — invalid authorization specification
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
// Class 3D/3F
inline constexpr std::string_view kInvalidCatalogName = "3D000";
inline constexpr std::string_view kInvalidSchemaName = "3F000";
// Class 40 — transaction rollback
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
// Class 42 — syntax error or access rule violation
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kConfigFileError = "F0000";
inline constexpr std::string_view kUndefinedColumn = "42703";
inline constexpr std::string_view kUndefinedFunction = "42883";
inline constexpr std::string_view kUndefinedTable = "42P01";
inline constexpr std::string_view kUndefinedObject = "42704";
inline constexpr std::string_view kDuplicateTable = "42P07";
inline constexpr std::string_view kDuplicateObject = "42710";
inline constexpr std::string_view kDuplicateColumn = "42701";
inline constexpr std::string_view kDuplicatePreparedStatement = "42P05";
inline constexpr std::string_view kDuplicateCursor = "42P03";
inline constexpr std::string_view kAmbiguousColumn = "42702";
inline constexpr std::string_view kDatatypeMismatch = "42804";
inline constexpr std::string_view kIndeterminateDatatype = "42P18";
inline constexpr std::string_view kUndefinedParameter = "42P02";
inline constexpr std::string_view kGroupingError = "42803";
inline constexpr std::string_view kInvalidColumnReference = "42P10";
inline constexpr std::string_view kWrongObjectType = "42809";
inline constexpr std::string_view kProgramLimitExceeded = "54000";
inline constexpr std::string_view kInvalidTableDefinition = "42P16";
inline constexpr std::string_view kDependentObjectsStillExist = "2BP01";
inline constexpr std::string_view kDuplicateAlias = "42712";
inline constexpr std::string_view kDuplicateSchema = "42P06";
inline constexpr std::string_view kTooManyConnections = "53300";
// Class 55 — object not in prerequisite state
inline constexpr std::string_view kLockNotAvailable = "55P03";
inline constexpr std::string_view kObjectNotInPrerequisiteState = "55000";
// Class 57 — operator intervention
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kCannotConnectNow = "57P03";
// Class XX — internal error
inline constexpr std::string_view kInternalError = "XX000";
inline constexpr std::string_view kDataCorrupted = "XX001";
}  // namespace sqlstate

struct PgError {
  std::string severity = "ERROR";  // ERROR, FATAL or PANIC (also sent untranslated as 'V')
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
  int position = 0;  // 1-based character position in the statement text; 0 = none
  std::string schema_name;
  std::string table_name;
  std::string column_name;
  std::string datatype_name;
  std::string constraint_name;

  static PgError make(std::string_view code, std::string message) {
    PgError e;
    e.sqlstate = std::string(code);
    e.message = std::move(message);
    return e;
  }
  static PgError fatal(std::string_view code, std::string message) {
    PgError e = make(code, std::move(message));
    e.severity = "FATAL";
    return e;
  }
  PgError&& with_detail(std::string d) && { detail = std::move(d); return std::move(*this); }
  PgError&& with_hint(std::string h) && { hint = std::move(h); return std::move(*this); }
  PgError&& at(int pos) && { position = pos; return std::move(*this); }
};

template <class T>
using PgResult = Expected<T, PgError>;
using PgStatus = Status<PgError>;

}  // namespace metagate
