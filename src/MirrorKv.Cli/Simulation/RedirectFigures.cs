namespace MirrorKv.Cli.Simulation;

/// <summary>What <see cref="RedirectionRun"/> measured.</summary>
/// <param name="Pairs">Pairs of real nodes.</param>
/// <param name="Keys">Keys the client wrote before the move and read and wrote after it.</param>
/// <param name="KeysMoved">Of them, keys whose slot moved.</param>
/// <param name="SlotsMoved">Slots the mover moved.</param>
/// <param name="Batches">Batches it moved them in (one per source pair's range, at most 1,024 slots each).</param>
/// <param name="MapVersions">Map versions it wrote (three per batch).</param>
/// <param name="MoveSeconds">How long the move took.</param>
/// <param name="ReadRedirects">Moved replies the client followed while reading every key after the move.</param>
/// <param name="ReadMapFetches">Maps the client fetched meanwhile.</param>
/// <param name="WriteRedirects">Moved replies it followed while then writing every key.</param>
/// <param name="WriteMapFetches">Maps it fetched meanwhile.</param>
/// <param name="WrongValues">Reads that did not return the value written before the move (must be 0).</param>
/// <param name="ClientMapVersion">The client's map version at the end.</param>
/// <param name="MapVersion">The map version in etcd after the move.</param>
/// <param name="Workers">Concurrent callers reading and writing.</param>
internal sealed record RedirectFigures(int Pairs, int Keys, int KeysMoved, int SlotsMoved, int Batches, int MapVersions, double MoveSeconds,
    long ReadRedirects, long ReadMapFetches, long WriteRedirects, long WriteMapFetches, int WrongValues, ulong ClientMapVersion, ulong MapVersion, int Workers);
