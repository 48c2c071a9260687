namespace MirrorKv.Store;

/// <summary>What applying one copied primary slab did (<see cref="StoreEngine.ApplySlabCopy"/>).</summary>
/// <param name="Status"><see cref="ApplyStatus.Applied"/>, or why nothing was applied.</param>
/// <param name="Applied">Slots whose image was newer than the local slot: copied, and indexed when live.</param>
/// <param name="Torn">Slots whose image failed validation (a write raced the copy): left to the stream.</param>
/// <param name="NotNewer">Valid images no newer than the local slot (the stream got there first): skipped.</param>
public readonly record struct SlabCopyResult(ApplyStatus Status, int Applied, int Torn, int NotNewer)
{
    /// <summary>A refusal: nothing was applied.</summary>
    public static SlabCopyResult Failed(ApplyStatus status) => new(status, 0, 0, 0);
}
