using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace NeuronInterop;

/// <summary>
/// What a path names, where a regular file and a device, a named pipe or a socket must be told apart: a file that
/// is replaced by renaming a new one over it would put a regular file in place of <c>/dev/null</c> (as root), and a
/// named pipe opened only to check it would wait for a reader. .NET does not tell these apart. Here too, the other
/// calls of a file's replacement that .NET lacks: reading and giving a file's owner, and flushing its folder.
/// </summary>
internal static partial class FileKind
{
    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a device, a named pipe or a socket.</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsSpecial(string path) => Type(path) is { } type && type != RegularFile && type != Folder;

    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a named pipe (FIFO).</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsNamedPipe(string path) => Type(path) == NamedPipe;

    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a socket, which cannot be opened as a file.</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsSocket(string path) => Type(path) == Socket;

    // The type bits of st_mode (S_IFMT) and four of their values (S_IFREG, S_IFDIR, S_IFIFO, S_IFSOCK).
    private const int TypeBits = 0xF000, RegularFile = 0x8000, Folder = 0x4000, NamedPipe = 0x1000, Socket = 0xC000;

    private static int? Type(string path)
    {
        // struct statx has one layout on every Linux architecture: stx_mode is the 16 bits at offset 28.
        const uint typeOnly = 0x1;  // STATX_TYPE
        byte[]? status = Status(path, typeOnly);
        return status is null ? null : BitConverter.ToUInt16(status, 28) & TypeBits;
    }

    /// <summary>
    /// The absolute path, without symbolic links, that the system reaches for <paramref name="path"/> (an existing
    /// folder or file), or null where that cannot be told: a missing path, and systems other than Linux. Unlike
    /// <see cref="Path.GetFullPath(string)"/>, which takes "folder/.." away by text, it goes up from where a link to
    /// "folder" leads.
    /// </summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        // Into a buffer of PATH_MAX bytes of our own: a path the C library allocated would have to be freed by the C
        // library's free, and "libc" as loaded here is not the free that a preloaded allocator (a sanitizer) put in place.
        const int maxPath = 4096;  // PATH_MAX
        var real = new byte[maxPath];
        try
        {
            return Realpath(path, real) == IntPtr.Zero ? null : Encoding.UTF8.GetString(real, 0, Array.IndexOf(real, (byte)0));
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The user and group that own <paramref name="path"/> (through symbolic links).</summary>
    /// <remarks>Null where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static (uint User, uint Group)? Owner(string path)
    {
        // stx_uid and stx_gid are the 32 bits at offsets 20 and 24.
        const uint ownerAndGroup = 0x8 | 0x10;  // STATX_UID | STATX_GID
        byte[]? status = Status(path, ownerAndGroup);
        return status is null ? null : (BitConverter.ToUInt32(status, 20), BitConverter.ToUInt32(status, 24));
    }

    /// <summary>
    /// Gives the open <paramref name="file"/> the user and group of <paramref name="owner"/>, as far as the system lets
    /// this process: both for root, the group alone where the user belongs to it, neither otherwise (as <c>sed -i</c> does).
    /// </summary>
    public static void TryGiveTo(SafeFileHandle file, (uint User, uint Group) owner)
    {
        if (!OperatingSystem.IsLinux())
            return;
        const uint keepUser = uint.MaxValue;  // (uid_t)-1: fchown leaves the user as it is
        try
        {
            if (Fchown(file, owner.User, owner.Group) != 0)
            {
                Fchown(file, keepUser, owner.Group);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
        }
    }

    /// <summary>
    /// Flushes <paramref name="folder"/>'s entries to disk, so that a file just renamed into it is there after a crash;
    /// best effort (a file system that cannot is left as it is), and nothing on systems other than Linux.
    /// </summary>
    public static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsLinux())
            return;
        const int readOnly = 0, closeOnExec = 0x80000;  // O_RDONLY, O_CLOEXEC (the same on every Linux architecture)
        try
        {
            int descriptor = Open(folder, readOnly | closeOnExec, 0);
            if (descriptor >= 0)
            {
                Fsync(descriptor);
                Close(descriptor);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
        }
    }

    // statx of `path` through links, asking for the fields in `mask`; null where it fails.
    private static byte[]? Status(string path, uint mask)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        const int currentFolder = -100;  // AT_FDCWD
        var status = new byte[256];
        try
        {
            return Statx(currentFolder, path, 0, mask, status) == 0 ? status : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;  // a C library without statx (glibc before 2.28)
        }
    }

    [LibraryImport("libc", EntryPoint = "fchown")]
    private static partial int Fchown(SafeFileHandle file, uint user, uint group);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int folder, string path, int flags, uint mask, byte[] status);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr Realpath(string path, [Out] byte[] resolved);
}
