// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ILicenseTransferHook
/// @notice Told by {LicenseNFT} about every transfer of a license (not mints), so that income that
/// accrues over time (see {IRoyaltyStreams}) can follow the holder from the moment of the transfer.
/// The hook must be O(1) and must not revert: a reverting hook would block license transfers.
interface ILicenseTransferHook {
    /// @notice Called by the license contract after `licenseId` moved from `from` to `to`.
    function onLicenseTransfer(uint256 licenseId, address from, address to) external;
}
