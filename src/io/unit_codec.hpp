// The text of a unit file (include/rnnlyap/units.hpp): a head line that names the run, then one
// line per finished unit, in any order. Every line is a JSON object carrying a "check" (the FNV-1a
// hash of the rest of it), so that an edited or torn line is recognised. Every number of a result
// is written exactly (17 significant digits; non-finite ones spelled out), so a run put together
// from unit lines is the run computed in one process. Which units a run has and how lines are
// matched to them is the plan's (core/unit_plan.hpp).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap::io {

/// FNV-1a of `text` as 16 hexadecimal digits (a line's check, a run's identity).
std::string hash_text(const std::string& text);

/// FNV-1a of a file's bytes as 16 hexadecimal digits: a unit file names the contents of the files
/// its run read, so that another file under the same name is not taken for the same run. Throws
/// InvalidInput "cannot read PATH".
std::string file_hash(const std::string& path);

/// The first line of a unit file: the run's identity (kind, options without placement, files,
/// units), the format, the options as given (`params`, with k) and a sweep's grid.
std::string head_line(nlohmann::json identity, const SpectrumOptions& params,
                      const nlohmann::json& grid);

/// What a head line says.
struct UnitHead {
  std::string kind;        ///< "sweep", "ensemble" or "sequences"
  SpectrumOptions params;  ///< with k
  nlohmann::json files;    ///< file name → file_hash
  std::vector<double> g;   ///< a sweep's grid
  std::vector<double> alpha;
  std::vector<int> n;
  std::size_t units = 0;  ///< an ensemble's or a batch's units
};
/// Reads a head line; `file` names it in messages. Throws InvalidInput for a line that is not a
/// head of this format, whose check fails, that lacks a field or names an unknown kind.
UnitHead read_head_line(const std::string& line, const std::string& file);

/// The line of a finished unit: the run's hash, the unit's key and its result.
std::string unit_line(const std::string& run, nlohmann::json key, const SpectrumResult& result);
/// A unit line's object without its check: throws nlohmann::json::exception for a line that is
/// not JSON, InvalidInput "check failed" when its check fails.
nlohmann::json read_unit_line(const std::string& line);
/// The result in a unit line's "result": throws InvalidInput or nlohmann::json::exception for a
/// field that is missing or malformed.
SpectrumResult unit_result(const nlohmann::json& j);

}  // namespace rnnlyap::io
