namespace MirrorKv.Protocol;

/// <summary>
/// Where a slot range stands in a move from its owner to another pair (docs/scale-out.md, "Moving slots"). Kept in
/// the map in etcd only: clients route by ownership alone, so CLUSTER_MAP does not carry it.
/// </summary>
public enum MigrationPhase : byte
{
    /// <summary>Not moving: the owner serves every operation of the slots.</summary>
    None = 0,

    /// <summary>
    /// The owner fences writes of the slots (refused with Moved at the current map version: clients wait and retry)
    /// and still serves their reads; its entries are being copied to the target, which takes the mover's imports.
    /// </summary>
    Copy = 1,

    /// <summary>
    /// The owner refuses every keyed operation of the slots and deletes its entries of them (the mover's retire);
    /// the next map gives the slots to the target.
    /// </summary>
    Handoff = 2,
}
