namespace MirrorKv.Transport;

/// <summary>Why a connection's stream of frames cannot be followed any further (see <see cref="IFrameHandler.OnFramingError"/>).</summary>
public enum FramingError
{
    /// <summary>A header announced a frame shorter than the header itself.</summary>
    LengthBelowHeader,

    /// <summary>A header announced a frame longer than the connection's <see cref="IConnection.MaxFrameSize"/>.</summary>
    TooLarge,
}
