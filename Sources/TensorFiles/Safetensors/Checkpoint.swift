import Foundation

/// A Hugging Face checkpoint directory: either sharded (`model.safetensors.index.json` naming the
/// shard of every tensor) or a single `model.safetensors`. Every shard is mapped and validated
/// when opened, and the index is checked against the shards in both directions.
package final class Checkpoint: @unchecked Sendable {
    package static let indexFileName = "model.safetensors.index.json"

    package let directory: String
    /// Shards in file-name order.
    package let shards: [SafetensorsFile]
    /// The index file, when the checkpoint is sharded.
    package let indexPath: String?
    /// `metadata` of the index (for example `total_size`), as written.
    package let indexMetadata: [String: Any]
    /// tensor name -> (shard index, tensor info)
    private let locations: [String: (shard: Int, info: SafetensorsTensorInfo)]

    package init(directory: String) throws {
        self.directory = directory
        let fileManager = FileManager.default
        let indexPath = directory + "/" + Self.indexFileName
        if fileManager.fileExists(atPath: indexPath) {
            self.indexPath = indexPath
            let (metadata, weightMap) = try Self.readIndex(indexPath)
            indexMetadata = metadata
            let shardNames = Set(weightMap.values).sorted()
            var shards: [SafetensorsFile] = []
            for name in shardNames {
                let shardPath = directory + "/" + name
                guard fileManager.fileExists(atPath: shardPath) else {
                    throw SafetensorsError.shardMissing(index: indexPath, shard: name)
                }
                shards.append(try SafetensorsFile(path: shardPath))
            }
            let shardIndex = Dictionary(uniqueKeysWithValues: shardNames.enumerated().map { ($1, $0) })
            var locations: [String: (shard: Int, info: SafetensorsTensorInfo)] = [:]
            for (tensor, shardName) in weightMap.sorted(by: { $0.key < $1.key }) {
                let shard = shardIndex[shardName]!
                guard let info = shards[shard].info(tensor) else {
                    throw SafetensorsError.indexEntryMissingFromShard(index: indexPath, tensor: tensor, shard: shardName)
                }
                locations[tensor] = (shard, info)
            }
            for (number, shard) in shards.enumerated() {
                for info in shard.tensors where locations[info.name]?.shard != number {
                    throw SafetensorsError.tensorNotInIndex(
                        index: indexPath, tensor: info.name, shard: fileName(shard.path))
                }
            }
            self.shards = shards
            self.locations = locations
        } else {
            self.indexPath = nil
            indexMetadata = [:]
            let single = directory + "/model.safetensors"
            var names: [String] = []
            if fileManager.fileExists(atPath: single) {
                names = ["model.safetensors"]
            } else {
                names = ((try? fileManager.contentsOfDirectory(atPath: directory)) ?? [])
                    .filter { $0.hasSuffix(".safetensors") }.sorted()
            }
            guard !names.isEmpty else { throw SafetensorsError.noCheckpoint(path: directory) }
            var shards: [SafetensorsFile] = []
            var locations: [String: (shard: Int, info: SafetensorsTensorInfo)] = [:]
            for name in names {
                let shard = try SafetensorsFile(path: directory + "/" + name)
                for info in shard.tensors {
                    if let existing = locations[info.name] {
                        throw SafetensorsError.duplicateTensor(
                            tensor: info.name, firstShard: names[existing.shard], secondShard: name)
                    }
                    locations[info.name] = (shards.count, info)
                }
                shards.append(shard)
            }
            self.shards = shards
            self.locations = locations
        }
    }

    private static func readIndex(_ path: String) throws -> ([String: Any], [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SafetensorsError.badIndex(file: path, detail: "cannot read: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SafetensorsError.badIndex(file: path, detail: "not a JSON object")
        }
        guard let map = object["weight_map"] as? [String: Any] else {
            throw SafetensorsError.badIndex(file: path, detail: "no 'weight_map' object")
        }
        var weightMap: [String: String] = [:]
        for (tensor, shard) in map {
            guard let shard = shard as? String, !shard.contains("/"), !shard.isEmpty else {
                throw SafetensorsError.badIndex(file: path, detail: "weight_map entry '\(tensor)' is not a plain file name")
            }
            weightMap[tensor] = shard
        }
        return ((object["metadata"] as? [String: Any]) ?? [:], weightMap)
    }

    package var tensorCount: Int { locations.count }

    /// All tensor names, ordered by shard and then by position in the shard.
    package var tensorNames: [String] { shards.flatMap { shard in shard.tensors.map(\.name) }.filter { locations[$0] != nil } }

    package func contains(_ name: String) -> Bool { locations[name] != nil }

    package func info(_ name: String) -> SafetensorsTensorInfo? { locations[name]?.info }

    /// The shard holding `name`.
    package func shard(of name: String) -> SafetensorsFile? { locations[name].map { shards[$0.shard] } }

    package func bytes(of name: String) throws(SafetensorsError) -> UnsafeRawBufferPointer {
        guard let location = locations[name] else { throw .tensorNotFound(file: directory, tensor: name) }
        return shards[location.shard].bytes(of: location.info)
    }

    /// Total bytes of tensor data across shards.
    package var dataBytes: Int { shards.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + $1.byteCount } } }
}

/// The last path component.
package func fileName(_ path: String) -> String { splitPath(path).name }
