import FoundationEssentials
import SkiffCommon

/// The one JSON encoding of Skiff's image blobs: sorted keys and unescaped
/// slashes, so the same value always gives the same bytes and digest.
public enum CanonicalJSON {
    public static func encode<T: Encodable>(_ value: T) throws(SkiffError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw SkiffError(.invalidData, "cannot encode \(T.self) as JSON: \(error)")
        }
    }

    /// Decodes `bytes`; `what` names the document in the error ("manifest sha256:…").
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(SkiffError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw SkiffError(.invalidData, "\(what) is not a valid \(T.self): \(describe(error))")
        } catch {
            throw SkiffError(.invalidData, "\(what) is not valid JSON: \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at " + keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\"" + path(context)
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription + path(context)
        @unknown default:
            return "\(error)"
        }
    }
}
